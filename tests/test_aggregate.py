"""The aggregation on fabricated run folders: every run, seed, layer and epoch lands exactly once, unchanged."""

import itertools
import json
from pathlib import Path

import pandas as pd
import pytest

from decaylab.aggregate import aggregate

CELLS = [("standard", 5.0, 0.5), ("scaled", 5.0, 0.5), ("standard", 0.0, 2.0)]
SEEDS = (0, 1)
EPOCHS = range(3)
LAYERS = {"W1": ("rms", "shrink"), "W2": ("rms", "shrink"),
          "net": ("acc_validation", "acc_test", "acc_train", "cost_test")}


def value(cell: int, seed: int, epoch: int, layer: str, metric: str) -> float:
    """A distinct, recognisable number for every row."""
    return cell * 1000 + seed * 100 + epoch * 10 + list(LAYERS).index(layer) + len(metric) / 100


def fabricate(root: Path) -> list[str]:
    run_jsons = []
    for c, ((init, lam, eta), seed) in enumerate(itertools.product(CELLS, SEEDS)):
        c //= len(SEEDS)
        out = root / f"main/init~{init}/lam~{lam:g}/eta~{eta:g}/hidden~30/seed~{seed}"
        out.mkdir(parents=True)
        rows = [(e, layer, metric, value(c, seed, e, layer, metric))
                for e in EPOCHS for layer, metrics in LAYERS.items() for metric in metrics]
        pd.DataFrame(rows, columns=["epoch", "layer", "metric", "value"]).to_parquet(out / "metrics.parquet")
        config = {"init": init, "lam": lam, "eta": eta, "hidden": [30], "seed": seed, "dataset": "synthetic",
                  "m": 10, "epochs": 2}
        final = {f"{layer}/{metric}": value(c, seed, 2, layer, metric)
                 for layer, metrics in LAYERS.items() for metric in metrics}
        summary = {"config": config, "cell": f"main/init~{init}/lam~{lam:g}/eta~{eta:g}/hidden~30", "n": 600,
                   "sizes": [64, 30, 10], "final": final, "diverged": False, "wall_time_s": 1.5,
                   "mlflow_run_id": f"run{c}{seed}"}
        (out / "run.json").write_text(json.dumps(summary))
        run_jsons.append(str(out / "run.json"))
    return run_jsons


def test_every_run_seed_layer_and_epoch_is_aggregated_once(tmp_path):
    run_jsons = fabricate(tmp_path / "runs")
    table = aggregate(run_jsons + run_jsons[:1], tmp_path / "summary.parquet", tmp_path / "runs.csv")
    keys = ["init", "lam", "eta", "seed", "epoch", "layer", "metric"]
    assert not table.duplicated(keys).any()
    expected_rows = len(CELLS) * len(SEEDS) * len(EPOCHS) * sum(map(len, LAYERS.values()))
    assert len(table) == expected_rows
    for c, (init, lam, eta) in enumerate(CELLS):
        for seed, epoch, (layer, metrics) in itertools.product(SEEDS, EPOCHS, LAYERS.items()):
            for metric in metrics:
                row = table[(table.init == init) & (table.lam == lam) & (table.eta == eta) & (table.seed == seed)
                            & (table.epoch == epoch) & (table.layer == layer) & (table.metric == metric)]
                assert row.value.tolist() == [value(c, seed, epoch, layer, metric)]
    assert pd.read_parquet(tmp_path / "summary.parquet").equals(table)
    runs = pd.read_csv(tmp_path / "runs.csv")
    assert len(runs) == len(CELLS) * len(SEEDS) and not runs.duplicated(["init", "lam", "eta", "seed"]).any()
    assert set(runs.arm) == {"main"} and set(runs.n) == {600} and set(runs.n_w) == {64 * 30 + 30 * 10}
    first = runs[(runs.init == "standard") & (runs.lam == 5.0) & (runs.seed == 1)].iloc[0]
    assert first.acc_test == value(0, 1, 2, "net", "acc_test")
    assert first.peak_acc_validation == value(0, 1, 2, "net", "acc_validation")  # the best epoch is the last here


def test_a_run_missing_its_metrics_is_an_error_naming_it(tmp_path):
    run_jsons = fabricate(tmp_path / "runs")
    gone = Path(run_jsons[3]).parent / "metrics.parquet"
    gone.unlink()
    with pytest.raises(FileNotFoundError, match="metrics.parquet"):
        aggregate(run_jsons, tmp_path / "summary.parquet", tmp_path / "runs.csv")
    assert not (tmp_path / "summary.parquet").exists() and not (tmp_path / "runs.csv").exists()
