"""Train one job: its runs as one ensemble, each written to its folder and mirrored to one MLflow run.

Wires the pieces: the spec's job, its data (datamodule), the networks and step (module), the run folders
(outputs), the tracking store (tracking) and the signals (signals). The command line is decaylab.cli.
"""

import logging
import os
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

from decaylab.outputs import RunRecords, check_writable, git_commit, write_outputs
from decaylab.signals import JobKilled, StopSignal
from decaylab.spec import Job

DEFAULT_CACHE = Path(os.environ.get("DECAYLAB_CACHE", Path.home() / ".cache" / "decaylab"))


def load_splits(job: Job):
    """The job's dataset: its prepared file, else prepared once into the cache."""
    from decaylab import data

    path = Path(job.data_file) if job.data_file else DEFAULT_CACHE / f"{job.shared.dataset}.npz"
    if not path.exists():
        data.prepare(job.shared.dataset, DEFAULT_CACHE, path)
    return data.load_prepared(path)


def run_job(job: Job, progress: TextIO | None = None) -> list[dict]:
    """Train the job's runs; write their folders and MLflow runs. Returns the run.json contents. Each epoch's line
    goes to stderr; `progress` (the terminal, when stderr is a log) gets one every PROGRESS_EVERY_S."""
    from decaylab.gpu_slots import pin_job_to_free_gpu

    gpu_lock = pin_job_to_free_gpu(job.accelerator)  # noqa: F841 (held until the job ends)
    import torch

    from decaylab import tracking

    torch.set_num_threads(job.threads)
    store = tracking.Store.open(job.experiment)  # a store that cannot be used now: the runs are pending
    for run in job.runs:
        check_writable(Path(run.out))
    splits = load_splits(job)
    started, started_at = time.time(), datetime.now(timezone.utc).isoformat()
    commit = git_commit()
    records = []
    parent = job.study_results and store.call(tracking.study_run_id, store.client, store.experiment_id,
                                              job.shared.study, job.shared.dataset, job.study_results)
    with StopSignal().installed() as stop:
        try:
            with stop.deferred():
                for run in job.runs:
                    records.append(RunRecords(run, _start_tracked(store, job, run, commit, parent)))
            module = fit_ensemble(job, splits, _recorder(records, job, stop, progress))
            timing = {"wall_time_s": round(time.time() - started, 3), "started_at": started_at,
                      "finished_at": datetime.now(timezone.utc).isoformat()}
            with stop.deferred():
                written = [write_outputs(job, rec, module.sizes, module.trained_on, commit, timing) for rec in records]
            if store.failure:
                store.close_runs([rec.tracked for rec in records], "FAILED")
                print(f"decaylab: {len(written)} runs trained and written, not logged to MLflow ({store.failure}); "
                      "log them once the store is back: python -m decaylab.sync", file=sys.stderr, flush=True)
            return written
        except BaseException as exc:  # Lightning turns interrupts into SystemExit
            status = "KILLED" if stop.received else "FAILED"
            for rec in records:
                if not rec.tracked.ended:
                    rec.tracked.finish(status)
            store.close_runs([rec.tracked for rec in records], status)
            if stop.received:
                raise JobKilled(stop.received) from exc
            raise


def _start_tracked(store, job: Job, run, commit: str | None, parent: str | None):
    """The run's MLflow run (a child of the study's run `parent`), retiring any earlier one of the same folder."""
    from decaylab import tracking

    name, params, tags = tracking.run_identity(run.record(), job.run_config(run), commit, run.out)
    store.call(tracking.supersede, store.client, store.experiment_id, tracking.RUN_DIR_TAG, tags[tracking.RUN_DIR_TAG])
    if parent:
        tags["mlflow.parentRunId"] = parent
    return tracking.TrackedRun(store, name, params, tags)


PROGRESS_EVERY_S = 20.0


def _recorder(records: list[RunRecords], job: Job, stop: StopSignal, progress: TextIO | None):
    """Stores each epoch's metrics per run; prints a progress line per epoch to stderr, and with the time left to
    `progress` at most every PROGRESS_EVERY_S (and at the last epoch)."""
    started, epochs = time.time(), job.shared.epochs
    shown = [started]

    def record(epoch, names, values):
        with stop.deferred():
            for rec, row in zip(records, values.numpy()):
                rec.add(epoch, names, row)
        now = time.time()
        diverged = sum(rec.diverged_epoch is not None for rec in records)
        print(f"decaylab.train: epoch {epoch}/{epochs} measured after {now - started:.1f} s "
              f"({len(records)} networks, {diverged} diverged)", file=sys.stderr, flush=True)
        if progress is not None and epoch and (now - shown[0] >= PROGRESS_EVERY_S or epoch == epochs):
            shown[0] = now
            left = (now - started) / epoch * (epochs - epoch)
            print(f"decaylab: {job.shared.study} {job.name}: epoch {epoch}/{epochs}, {duration(now - started)} "
                  + (f"so far, about {duration(left)} left" if epoch < epochs else "in all")
                  + f" ({len(records)} networks)", file=progress, flush=True)

    return record


def duration(seconds: float) -> str:
    """'45 s', '3 min 10 s', '1 h 05 min'."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def fit_ensemble(job: Job, splits, record):
    """Train all runs with Lightning; `record(epoch, names, values)` receives each epoch's metrics.

    One device per job: Lightning's own cluster detection is off (Snakemake places jobs, this module handles
    their signals), and its notices that do not apply to a manually optimized ensemble are not printed.
    """
    import lightning.pytorch as L
    from lightning.pytorch.plugins.environments import LightningEnvironment

    from decaylab.datamodule import JobData
    from decaylab.module import EnsembleModule

    module = EnsembleModule(job, JobData(job, splits), record)
    rank_zero_log = logging.getLogger("lightning.pytorch.utilities.rank_zero")

    def no_tips(record: logging.LogRecord) -> bool:
        return "litlogger" not in record.getMessage()

    rank_zero_log.addFilter(no_tips)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*configure_optimizers` returned `None`")
            warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
            warnings.filterwarnings("ignore", message=r"The `srun` command is available")  # a job is one task
            trainer = L.Trainer(accelerator=job.accelerator, devices=1, max_epochs=job.shared.epochs, logger=False,
                                enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                                num_sanity_val_steps=0, limit_val_batches=0, plugins=[LightningEnvironment()])
            trainer.fit(module)
    finally:
        rank_zero_log.removeFilter(no_tips)
    return module
