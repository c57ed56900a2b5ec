"""Is a run folder what its run.json says? Checked when Snakemake loads the study, and again by aggregate.

run.json records its metrics file's size and SHA-256 and the run's record. A finished run is damaged when
run.json is unreadable or from an older decaylab, when its record names another grid point than its folder,
when metrics.parquet is missing or differs from the recorded fingerprint, or when an aggregated run has lost
its files. Snakemake does not rebuild a missing or changed intermediate file while the report is up to date,
so the study stops instead, naming each damaged run and the command that retrains it.
"""

import csv
import hashlib
import json
from dataclasses import fields
from pathlib import Path

from decaylab.errors import ExpectedError
from decaylab.spec import Run

METRICS = "metrics.parquet"


class DamagedRunError(ExpectedError):
    """A run folder cannot be trusted; the message names it and the command that retrains it."""


def fingerprint(path: Path) -> dict:
    data = path.read_bytes()
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def recorded_run(record: dict, out: str) -> Run:
    """The Run a run.json's record describes (KeyError or TypeError when it is incomplete)."""
    settings = {f.name: record[f.name] for f in fields(Run) if f.name in record and f.name != "book"}
    return Run(**{**settings, "hidden": tuple(record["hidden"]), "book": tuple(sorted(record["book"].items())),
                  "out": out})


def metrics_damage(folder: Path, summary: dict) -> str | None:
    """Why the folder's metrics.parquet is not the one its run.json recorded, or None."""
    metrics = folder / METRICS
    if not metrics.exists():
        return f"{METRICS} is missing"
    found, recorded = fingerprint(metrics), summary.get("metrics")
    if found != recorded:
        size = f" ({found['bytes']} bytes, recorded {recorded['bytes']})" if recorded else ""
        return f"{METRICS} is not the file run.json recorded{size}"
    return None


def damage(run: Run, aggregated: set[str]) -> str | None:
    """Why the run's folder cannot be trusted, or None (also for a run not yet trained)."""
    folder = Path(run.out)
    if not (folder / "run.json").exists():
        return "its files were deleted after the study was aggregated" if run.out in aggregated else None
    try:
        summary = json.loads((folder / "run.json").read_text())
    except (ValueError, UnicodeDecodeError):
        summary = None
    if not isinstance(summary, dict):
        return "run.json is unreadable"
    if "run" not in summary or "metrics" not in summary:
        return None  # an older decaylab wrote it: its train rule's parameters changed, so Snakemake retrains it
    try:
        recorded = recorded_run(summary["run"], run.out)
    except (KeyError, TypeError):
        return "run.json's run record is incomplete"
    if (recorded.cell, recorded.seed) != (run.cell, run.seed):
        return f"run.json records {recorded.cell} seed {recorded.seed}"
    return metrics_damage(folder, summary)


def check_study(study_runs: list[Run], runs_table: Path, command: str, listing: Path,
                report: Path | None = None) -> None:
    """Raise DamagedRunError naming the damaged runs of the study (all of them in `listing`) and the command
    that retrains them, or naming a report whose summary is gone (a failed aggregation) while every run is in."""
    if report and report.exists() and not runs_table.exists() and all(
            (Path(run.out) / "run.json").exists() for run in study_runs):
        raise DamagedRunError(f"{report} may be stale: its summary {runs_table} is gone (a failed or interrupted "
                              f"aggregation?). Rebuild it: rm {report} && {command}")
    aggregated = set()
    if runs_table.exists():
        with open(runs_table, newline="") as fh:
            aggregated = {row["run_dir"] for row in csv.DictReader(fh)}
    damaged = [(run, why) for run in study_runs if (why := damage(run, aggregated))]
    if not damaged:
        return
    lines = [f"{run.out} is damaged: {why}" for run, why in damaged]
    if len(damaged) <= 3:
        named, remove = "; ".join(lines), " ".join(run.out for run, _ in damaged)
    else:
        listing.parent.mkdir(parents=True, exist_ok=True)
        listing.write_text("".join(f"{run.out}\n" for run, _ in damaged))
        named = "; ".join(lines[:2]) + f"; and {len(damaged) - 2} more (all listed in {listing})"
        remove = f"$(cat {listing})"
    raise DamagedRunError(f"{named}. Retrain {'it' if len(damaged) == 1 else 'them'}: "
                          f"rm -rf {remove} {runs_table} && {command} --forcerun aggregate")
