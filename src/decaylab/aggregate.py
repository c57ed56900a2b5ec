"""Collect a study's finished runs into one tidy table and one row-per-run CSV."""

import json
from pathlib import Path

import pandas as pd

from decaylab.atomic import atomic_path
from decaylab.integrity import DamagedRunError, metrics_damage
from decaylab.spec import literal


def _run_columns(run_dir: Path, summary: dict) -> dict:
    """The run's record (spec.Run.record) as table columns: settings as written in the config, layer sizes."""
    run, sizes = summary["run"], summary["sizes"]
    settings = {key: value for key, value in run.items() if key not in ("cell", "book")}
    return {**settings, "hidden": literal(run["hidden"]),
            "sizes": literal(sizes), "n_w": sum(a * b for a, b in zip(sizes[:-1], sizes[1:])),
            "diverged": summary["diverged"], "collapsed": summary["collapsed"], "run_dir": str(run_dir)}


def _layer_inputs(layers: pd.Series, sizes: list[int]) -> pd.Series:
    """Inputs of each weight layer W<i> (the width of the layer before it); NaN for the network as a whole."""
    return layers.map({f"W{i + 1}": n_in for i, n_in in enumerate(sizes[:-1])}).astype("Int64")


def aggregate(run_jsons: list[str], summary_out: Path, runs_out: Path) -> pd.DataFrame:
    """Join every run's metrics.parquet with its record; one row per run in the CSV."""
    tables, rows = [], []
    for path in dict.fromkeys(run_jsons):  # in the study's order; a run listed twice is counted once
        run_dir = Path(path).parent
        summary = json.loads(Path(path).read_text())
        why = (metrics_damage(run_dir, summary) if "run" in summary and "collapsed" in summary
               else "no run record or collapse flag (an older decaylab wrote it)")
        if why:
            raise DamagedRunError(f"{run_dir} is damaged: {why}; nothing was aggregated. Delete the folder and rerun "
                                  "the study with --forcerun aggregate: its job retrains it.")
        cols = _run_columns(run_dir, summary)
        metrics = pd.read_parquet(run_dir / "metrics.parquet")
        tables.append(metrics.assign(**{k: v for k, v in cols.items() if k != "run_dir"},
                                     n_in=_layer_inputs(metrics.layer, summary["sizes"])))
        history = metrics[metrics.layer == "net"].pivot(index="epoch", columns="metric", values="value")
        book = summary["run"]["book"]
        rows.append({
            **cols,
            **{k.removeprefix("net/"): v for k, v in summary["final"].items() if k.startswith("net/")},
            "peak_acc_validation": history["acc_validation"].max(),
            "peak_acc_test": history["acc_test"].max(),
            "wall_time_s": summary["wall_time_s"], "mlflow_run_id": summary["mlflow_run_id"],
            **{f"book_{key}": book.get(key) for key in ("accuracy", "split", "note")},
        })
    table = pd.concat(tables, ignore_index=True)
    with atomic_path(summary_out) as tmp:
        table.to_parquet(tmp, index=False)
    with atomic_path(runs_out) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    return table
