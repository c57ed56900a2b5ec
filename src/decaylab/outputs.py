"""A run's folder: metrics.parquet (one row per epoch x layer x metric), then run.json, each written atomically.

run.json is the completion marker: the run's record (spec.Run.record, read by aggregate and analyze), the size
and SHA-256 of metrics.parquet (see integrity), the config that determines its numbers, its final figures and
its provenance.
"""

import json
import math
import subprocess
from importlib.metadata import version
from pathlib import Path

import numpy as np

from decaylab.atomic import atomic_path, write_text
from decaylab.errors import ExpectedError
from decaylab.glossary import collapses, diverges
from decaylab.integrity import METRICS, fingerprint
from decaylab.spec import Job, Run, config_hash


class OutputError(ExpectedError):
    """A run folder cannot be written (disk full, no permission)."""


def check_writable(folder: Path) -> None:
    """Fail before training, not after it, when a run folder cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_text(folder / ".write-check", "ok")
        (folder / ".write-check").unlink()
    except OSError as exc:
        raise OutputError(f"cannot write to {folder}: {exc.strerror or exc}; make it writable, free space or pick "
                          "another folder. Nothing was trained.") from exc


def git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


class RunRecords:
    """Collects one run's tidy metric rows and mirrors each epoch to its MLflow run."""

    def __init__(self, run: Run, tracked):
        self.run, self.tracked, self.rows = run, tracked, []
        self.diverged_epoch: int | None = None

    def add(self, epoch: int, names, values: np.ndarray) -> None:
        metrics = {name: float(v) for name, v in zip(names, values)}
        self.rows.extend((epoch, layer, metric, v) for (layer, metric), v in metrics.items())
        if self.diverged_epoch is None and diverges(metrics):
            self.diverged_epoch = epoch
        self.tracked.log_epoch(epoch, {f"{layer}/{metric}": v if math.isfinite(v) else float("nan")
                                       for (layer, metric), v in metrics.items()})

    def epoch(self, which: int) -> dict[str, float]:
        """One epoch's metrics as `layer/metric` (-1: the last)."""
        at = max(r[0] for r in self.rows) if which == -1 else which
        return {f"{layer}/{metric}": v for epoch, layer, metric, v in self.rows if epoch == at}


def write_outputs(job: Job, rec: RunRecords, sizes: list[int], device: str, commit: str | None,
                  timing: dict) -> dict:
    """metrics.parquet, then run.json (the completion marker), each atomic; then the MLflow run ends FINISHED."""
    import pandas as pd

    out = Path(rec.run.out)
    table = pd.DataFrame(rec.rows, columns=["epoch", "layer", "metric", "value"])
    try:
        with atomic_path(out / METRICS) as tmp:
            table.to_parquet(tmp, index=False)
    except OSError as exc:
        raise OutputError(f"cannot write {out / 'metrics.parquet'}: {exc}; nothing half-written was left.") from exc
    config = job.run_config(rec.run)
    summary = {
        "run": rec.run.record(), "metrics": fingerprint(out / METRICS), "config": config, "sizes": sizes,
        "final": rec.epoch(-1),
        "diverged": rec.diverged_epoch is not None, "diverged_epoch": rec.diverged_epoch,
        "collapsed": rec.diverged_epoch is None and collapses(rec.epoch(0), rec.epoch(-1), sizes[-1]), **timing,
        "members_in_job": len(job.runs), "streams_in_job": job.streams, "device": device,  # float32: the grouping
        "versions": {p: version(p) for p in ("torch", "lightning", "mlflow", "numpy", "pandas")},
        "git_commit": commit, "config_hash": config_hash(config),
        "mlflow_run_id": rec.tracked.run_id, "mlflow_experiment": job.experiment,
    }
    return finish_tracking(rec.tracked, out, summary)


def finish_tracking(tracked, out: Path, summary: dict) -> dict:
    """Log the folder's two files to its MLflow run and end it FINISHED, writing run.json on the way. run.json's
    `tracking` says whether the MLflow run is complete ("logged") or not ("pending": decaylab.sync logs it)."""
    tracked.log_artifact(out / METRICS)
    _write_summary(out, {**summary, "tracking": "logged" if tracked.logged else "pending"})
    tracked.log_artifact(out / "run.json")
    tracked.finish("FINISHED", tags={f"decaylab.{flag}": str(summary.get(flag, "unknown")).lower()
                                     for flag in ("diverged", "collapsed")})  # an older run.json has no collapse flag
    summary["tracking"] = "logged" if tracked.logged else "pending"
    if not tracked.logged:
        _write_summary(out, summary)
    return summary


def _write_summary(out: Path, summary: dict) -> None:
    try:
        write_text(out / "run.json", json.dumps(summary, indent=2, allow_nan=True) + "\n")
    except OSError as exc:
        raise OutputError(f"cannot write {out / 'run.json'}: {exc}; nothing half-written was left.") from exc
