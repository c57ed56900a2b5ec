"""Collect a study's finished runs into one tidy table and one row-per-run CSV."""

import json
from pathlib import Path

import pandas as pd

from decaylab.atomic import atomic_path


def _run_columns(run_dir: Path, summary: dict) -> dict:
    cfg = summary["config"]
    sizes = summary["sizes"]
    return {
        "arm": summary["cell"].split("/")[0],
        "init": cfg["init"], "lam": cfg["lam"], "eta": cfg["eta"],
        "hidden": "-".join(map(str, cfg["hidden"])), "seed": cfg["seed"],
        "dataset": cfg["dataset"], "n": summary["n"], "m": cfg["m"], "epochs": cfg["epochs"],
        "sizes": "-".join(map(str, sizes)), "n_w": sum(a * b for a, b in zip(sizes[:-1], sizes[1:])),
        "diverged": summary["diverged"], "run_dir": str(run_dir),
    }


def aggregate(run_jsons: list[str], summary_out: Path, runs_out: Path) -> pd.DataFrame:
    """Join every run's metrics.parquet with its configuration; one row per run in the CSV."""
    tables, rows = [], []
    for path in sorted(set(run_jsons)):  # a run listed twice is still counted once
        run_dir = Path(path).parent
        summary = json.loads(Path(path).read_text())
        cols = _run_columns(run_dir, summary)
        metrics = pd.read_parquet(run_dir / "metrics.parquet")
        tables.append(metrics.assign(**{k: v for k, v in cols.items() if k != "run_dir"}))
        history = metrics[metrics.layer == "net"].pivot(index="epoch", columns="metric", values="value")
        rows.append({
            **cols,
            **{k.removeprefix("net/"): v for k, v in summary["final"].items() if k.startswith("net/")},
            "peak_acc_validation": history["acc_validation"].max(),
            "peak_acc_test": history["acc_test"].max(),
            "wall_time_s": summary["wall_time_s"], "mlflow_run_id": summary["mlflow_run_id"],
        })
    table = pd.concat(tables, ignore_index=True)
    with atomic_path(summary_out) as tmp:
        table.to_parquet(tmp, index=False)
    with atomic_path(runs_out) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    return table
