"""Run one training job: `python -m decaylab.train --help`.

A job trains K members (one per init/lam/eta/seed) as one ensemble and writes,
per member, <out>/metrics.parquet (one row per epoch x layer x metric) and
<out>/run.json (resolved config, final figures, provenance), both atomically,
and one MLflow run.
"""

import argparse
import json
import logging
import math
import os
import signal
import subprocess
import sys
import time
import warnings
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

import numpy as np
import yaml

from decaylab.atomic import atomic_path, write_text
from decaylab.errors import ExpectedError
from decaylab.job import Job, Member, config_hash

DEFAULT_CACHE = Path(os.environ.get("DECAYLAB_CACHE", Path.home() / ".cache" / "decaylab"))


class JobKilled(KeyboardInterrupt):
    """SIGTERM/SIGINT reached the job; raised as an interrupt so no library swallows it."""


class _StopSignal:
    """Signal handler that records the signal and interrupts the job, never in the middle of a tracking write
    (a write cut in half keeps the SQLite store locked, and the run could not then be marked KILLED)."""

    def __init__(self):
        self.received: str | None = None
        self._writing = 0

    def __call__(self, signum, frame):
        self.received = signal.Signals(signum).name
        if not self._writing:
            raise JobKilled(self.received)

    @contextmanager
    def deferred(self):
        """A signal that arrives inside interrupts the job at the block's end."""
        self._writing += 1
        try:
            yield
        finally:
            self._writing -= 1
        if self.received and not self._writing:
            raise JobKilled(self.received)


def git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def load_splits(job: Job):
    from decaylab import data

    path = Path(job.data_file) if job.data_file else DEFAULT_CACHE / f"{job.dataset}.npz"
    if not path.exists():
        data.prepare(job.dataset, DEFAULT_CACHE, path)
    return data.load_prepared(path)


class MemberRecords:
    """Collects one member's tidy metric rows and mirrors each epoch to its MLflow run."""

    def __init__(self, member: Member, run):
        self.member, self.run, self.rows = member, run, []
        self.diverged_epoch: int | None = None

    def add(self, epoch: int, names, values: np.ndarray) -> None:
        self.rows.extend((epoch, layer, metric, float(v)) for (layer, metric), v in zip(names, values))
        if self.diverged_epoch is None and not np.isfinite(values).all():
            self.diverged_epoch = epoch
        self.run.log_epoch(epoch, {f"{layer}/{metric}": float(v) if math.isfinite(v) else float("nan")
                                   for (layer, metric), v in zip(names, values)})

    def final(self) -> dict[str, float]:
        last = max(r[0] for r in self.rows)
        return {f"{layer}/{metric}": v for epoch, layer, metric, v in self.rows if epoch == last}


class OutputError(ExpectedError):
    """A run folder cannot be written (disk full, no permission)."""


def check_writable(folder: Path) -> None:
    """Fail before training, not after it, when a run folder cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_text(folder / ".write-check", "ok")
        (folder / ".write-check").unlink()
    except OSError as exc:
        raise OutputError(f"cannot write to {folder}: {exc.strerror or exc}; free space or pick another folder. "
                          "Nothing was trained.") from exc


def run_job(job: Job) -> list[dict]:
    """Train the job's members; write their outputs and MLflow runs. Returns the run.json contents."""
    from decaylab.gpu_slots import pin_job_to_free_gpu

    gpu_lock = pin_job_to_free_gpu(job.accelerator)  # noqa: F841 (held until the job ends)
    import torch

    from decaylab import tracking

    torch.set_num_threads(job.threads)
    client, experiment_id = tracking.client_and_experiment(job.experiment)
    for mb in job.members:
        check_writable(Path(mb.out))
    splits = load_splits(job)
    started, started_at = time.time(), datetime.now(timezone.utc).isoformat()
    commit = git_commit()
    records = []
    stop = _StopSignal()
    old_handlers = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        with stop.deferred():
            n = job.train_size or len(splits.train_x)
            for mb in job.members:
                out = str(Path(mb.out).resolve())  # two checkouts logging to one server never retire each other's runs
                tracking.supersede(client, experiment_id, tracking.RUN_DIR_TAG, out)
                config = job.member_config(mb)
                tags = {tracking.RUN_DIR_TAG: out, "decaylab.cell": job.cell_label(mb), "decaylab.study": job.study,
                        "decaylab.config_hash": config_hash(config), "git_commit": commit or "unknown"}
                if job.parent_run_id:
                    tags["mlflow.parentRunId"] = job.parent_run_id
                run = tracking.MemberRun(client, experiment_id, job.run_name(mb), {**config, "arm": mb.arm, "n": n},
                                         tags)
                records.append(MemberRecords(mb, run))
        module = fit_ensemble(job, splits, _recorder(records, job.epochs, stop))
        timing = {"wall_time_s": round(time.time() - started, 3), "started_at": started_at,
                  "finished_at": datetime.now(timezone.utc).isoformat()}
        with stop.deferred():
            return [_write_outputs(job, module, rec, commit, timing) for rec in records]
    except BaseException as exc:  # Lightning turns interrupts into SystemExit
        status = "KILLED" if stop.received else "FAILED"
        for rec in records:
            if not rec.run.ended:
                rec.run.finish(status)
        if stop.received:
            raise JobKilled(stop.received) from exc
        raise
    finally:
        for s, h in old_handlers.items():
            signal.signal(s, h)


def _write_outputs(job: Job, module, rec: MemberRecords, commit: str | None, timing: dict) -> dict:
    """metrics.parquet, then run.json (the completion marker), each atomic; then the MLflow run ends FINISHED."""
    import pandas as pd

    out = Path(rec.member.out)
    table = pd.DataFrame(rec.rows, columns=["epoch", "layer", "metric", "value"])
    try:
        with atomic_path(out / "metrics.parquet") as tmp:
            table.to_parquet(tmp, index=False)
    except OSError as exc:
        raise OutputError(f"cannot write {out / 'metrics.parquet'}: {exc}; nothing half-written was left.") from exc
    config = job.member_config(rec.member)
    summary = {
        "config": config, "cell": rec.member.cell, "n": module.n, "sizes": module.sizes, "final": rec.final(),
        "diverged": rec.diverged_epoch is not None, "diverged_epoch": rec.diverged_epoch, **timing,
        "members_in_job": len(job.members), "device": module.trained_on,
        "versions": {p: version(p) for p in ("torch", "lightning", "mlflow", "numpy", "pandas")},
        "git_commit": commit, "config_hash": config_hash(config),
        "mlflow_run_id": rec.run.run_id, "mlflow_experiment": job.experiment,
    }
    rec.run.log_artifact(out / "metrics.parquet")
    try:
        write_text(out / "run.json", json.dumps(summary, indent=2, allow_nan=True) + "\n")
    except OSError as exc:
        raise OutputError(f"cannot write {out / 'run.json'}: {exc}; nothing half-written was left.") from exc
    rec.run.log_artifact(out / "run.json")
    rec.run.finish("FINISHED", tags={"decaylab.diverged": str(summary["diverged"]).lower()})
    return summary


def _recorder(records: list[MemberRecords], epochs: int, stop: _StopSignal):
    """Stores each epoch's metrics per member and prints one progress line per epoch to stderr."""
    started = time.time()

    def record(epoch, names, values):
        with stop.deferred():
            for rec, row in zip(records, values.numpy()):
                rec.add(epoch, names, row)
        diverged = sum(rec.diverged_epoch is not None for rec in records)
        print(f"decaylab.train: epoch {epoch}/{epochs} measured after {time.time() - started:.1f} s "
              f"({len(records)} networks, {diverged} diverged)", file=sys.stderr, flush=True)

    return record


def fit_ensemble(job: Job, splits, record):
    """Train all members with Lightning; `record(epoch, names, values)` receives each epoch's metrics.

    One device per job: Lightning's own cluster detection is off (Snakemake places jobs, this module handles
    their signals), and its notices that do not apply to a manually optimized ensemble are not printed.
    """
    import lightning.pytorch as L
    from lightning.pytorch.plugins.environments import LightningEnvironment

    from decaylab.module import EnsembleModule

    module = EnsembleModule(job, splits, record)
    rank_zero_log = logging.getLogger("lightning.pytorch.utilities.rank_zero")

    def no_tips(record: logging.LogRecord) -> bool:
        return "litlogger" not in record.getMessage()

    rank_zero_log.addFilter(no_tips)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*configure_optimizers` returned `None`")
            warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
            warnings.filterwarnings("ignore", message=r"The `srun` command is available")  # a job is one task
            trainer = L.Trainer(accelerator=job.accelerator, devices=1, max_epochs=job.epochs, logger=False,
                                enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                                num_sanity_val_steps=0, limit_val_batches=0, plugins=[LightningEnvironment()])
            trainer.fit(module)
    finally:
        rank_zero_log.removeFilter(no_tips)
    return module


def job_for_cells(cells, data_file: str, parent: dict, accelerator: str, threads: int) -> Job:
    """The job that trains study cells of one shape together: every seed of every cell is a member."""
    first = cells[0]
    members = tuple(Member(c.init, c.lam, c.eta, seed, c.run_dir(seed), cell=c.path, arm=c.arm)
                    for c in cells for seed in c.seeds)
    return Job(dataset=first.dataset, hidden=first.hidden, m=first.m, epochs=first.epochs, members=members,
               train_size=first.train_size, validation_size=first.validation_size, test_size=first.test_size,
               data_file=data_file, accelerator=accelerator, threads=threads, experiment=parent["experiment"],
               parent_run_id=parent["parent_run_id"], study=first.study)


def parse_args(argv=None) -> Job:
    p = argparse.ArgumentParser(prog="python -m decaylab.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--job", type=Path, help="YAML/JSON job file (shared keys plus a `members` list); "
                   "overrides every other flag")
    p.add_argument("--dataset", default="synthetic", help="mnist, fashion-mnist, mnist-5k or synthetic")
    p.add_argument("--hidden", type=int, nargs="+", default=[30], help="hidden-layer widths")
    p.add_argument("--init", default="standard", help="standard (N(0,1)) or scaled (N(0,1/n_in))")
    p.add_argument("--lam", type=float, default=0.0, help="L2 rate lambda")
    p.add_argument("--eta", type=float, default=0.5, help="learning rate")
    p.add_argument("--m", type=int, default=10, help="mini-batch size")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seed", type=int, nargs="+", default=[0], help="one or more seeds (one member each)")
    p.add_argument("--train-size", type=int, help="seeded subset of the training set (n)")
    p.add_argument("--validation-size", type=int)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--accelerator", default="auto", help="Lightning accelerator: auto, cpu, gpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--experiment", default="decaylab", help="MLflow experiment name")
    p.add_argument("--out", type=Path, default=Path("results/runs/manual"),
                   help="output folder; with several seeds, one subfolder seed~S each")
    args = p.parse_args(argv)
    if args.job:
        return Job.from_dict(yaml.safe_load(args.job.read_text()))
    members = tuple(
        Member(args.init, args.lam, args.eta, s,
               str(args.out / f"seed~{s}") if len(args.seed) > 1 else str(args.out))
        for s in args.seed)
    return Job(dataset=args.dataset, hidden=tuple(args.hidden), m=args.m, epochs=args.epochs, members=members,
               train_size=args.train_size, validation_size=args.validation_size, dtype=args.dtype,
               accelerator=args.accelerator, threads=args.threads, experiment=args.experiment)


def main(argv=None) -> int:
    try:
        job = parse_args(argv)
        run_job(job)
    except (ValueError, ExpectedError) as exc:
        print(f"decaylab.train: error: {exc}", file=sys.stderr)
        return 2
    except JobKilled as exc:
        print(f"decaylab.train: killed by {exc}", file=sys.stderr)
        return 143
    return 0


if __name__ == "__main__":
    sys.exit(main())
