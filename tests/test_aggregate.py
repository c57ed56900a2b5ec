"""The aggregation on fabricated run folders: every run, seed, layer and epoch lands exactly once, unchanged."""

import itertools
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from decaylab.aggregate import aggregate
from decaylab.integrity import DamagedRunError, fingerprint
from decaylab.spec import Run

CELLS = [("standard", 5.0, 0.5), ("scaled", 5.0, 0.5), ("standard", 0.0, 2.0)]
SEEDS = (0, 1)
EPOCHS = range(3)
RECORD_KEYS = list(Run(dataset="synthetic", hidden=(30,), m=10, epochs=2, train_size=None, validation_size=None,
                       test_size=None, init="standard", lam=0.0, eta=0.5, seed=0, out="x").record())
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
        run = Run(dataset="synthetic", hidden=(30,), m=10, epochs=2, train_size=None, validation_size=None,
                  test_size=None, init=init, lam=lam, eta=eta, seed=seed, out=str(out), study="s", arm="main",
                  book=(("accuracy", 0.9), ("note", "the book's"), ("split", "test")) if c == 0 else ())
        final = {f"{layer}/{metric}": value(c, seed, 2, layer, metric)
                 for layer, metrics in LAYERS.items() for metric in metrics}
        summary = {"run": run.record(), "metrics": fingerprint(out / "metrics.parquet"), "sizes": [64, 30, 10],
                   "final": final, "diverged": False, "collapsed": seed == 1 and c == 0,
                   "wall_time_s": 1.5, "mlflow_run_id": f"run{c}{seed}"}
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
    run_info = {"study": "s", "arm": "main", "hidden": "30", "dataset": "synthetic", "n": 600, "m": 10,
                "epochs": 2, "sizes": "64-30-10", "n_w": 64 * 30 + 30 * 10, "diverged": False}
    record = [key for key in RECORD_KEYS if key not in ("cell", "book")]  # every setting of the run's record
    assert list(table.columns) == ["epoch", "layer", "metric", "value", *record, "sizes", "n_w", "diverged",
                                   "collapsed", "n_in"]
    assert set(table[table.collapsed].seed) == {1} and set(table[table.collapsed].init) == {CELLS[0][0]}
    assert table.groupby("layer").n_in.first().dropna().to_dict() == {"W1": 64, "W2": 30}
    assert table[table.layer == "net"].n_in.isna().all() and table.n_in.dtype == "Int64"  # integers, none for net
    for key, expected in run_info.items():
        assert table[key].tolist() == [expected] * len(table), key
    runs = pd.read_csv(tmp_path / "runs.csv", dtype={"hidden": str})
    assert list(runs.columns) == [
        *record, "sizes", "n_w", "diverged", "collapsed", "run_dir", "acc_validation", "acc_test", "acc_train",
        "cost_test", "peak_acc_validation", "peak_acc_test", "wall_time_s", "mlflow_run_id", "book_accuracy",
        "book_split", "book_note"]
    assert len(runs) == len(CELLS) * len(SEEDS) and not runs.duplicated(["init", "lam", "eta", "seed"]).any()
    for key, expected in run_info.items():
        assert runs[key].tolist() == [expected] * len(runs), key
    for c, ((init, lam, eta), seed) in enumerate(itertools.product(CELLS, SEEDS)):
        c //= len(SEEDS)
        row = runs[(runs.init == init) & (runs.lam == lam) & (runs.eta == eta) & (runs.seed == seed)].iloc[0]
        assert row.run_dir == str(tmp_path / f"runs/main/init~{init}/lam~{lam:g}/eta~{eta:g}/hidden~30/seed~{seed}")
        assert row.acc_test == value(c, seed, 2, "net", "acc_test")
        assert row.peak_acc_test == value(c, seed, 2, "net", "acc_test")  # the best epoch is the last here
        assert row.peak_acc_validation == value(c, seed, 2, "net", "acc_validation")
        assert (row.wall_time_s, row.mlflow_run_id) == (1.5, f"run{c}{seed}")
        book = (row.book_accuracy, row.book_split, row.book_note)
        assert book == (0.9, "test", "the book's") if c == 0 else all(pd.isna(v) for v in book)


@pytest.mark.parametrize("damage,why", [
    (lambda p: p.unlink(), "metrics.parquet is missing"),
    (lambda p: os.truncate(p, 1000), r"metrics.parquet is not the file run.json recorded \(1000 bytes, recorded"),
    (lambda p: p.write_bytes(b"garbage"), r"metrics.parquet is not the file run.json recorded \(7 bytes")])
def test_a_run_with_damaged_metrics_is_named_and_nothing_is_aggregated(tmp_path, damage, why):
    run_jsons = fabricate(tmp_path / "runs")
    damage(Path(run_jsons[3]).parent / "metrics.parquet")
    with pytest.raises(DamagedRunError, match=rf"seed~1 is damaged: {why}"):
        aggregate(run_jsons, tmp_path / "summary.parquet", tmp_path / "runs.csv")
    assert not (tmp_path / "summary.parquet").exists() and not (tmp_path / "runs.csv").exists()


def test_a_deep_runs_widths_and_weight_count(tmp_path):
    from decaylab.aggregate import _run_columns

    run = Run(dataset="mnist", hidden=(100, 100), m=10, epochs=40, train_size=1000, validation_size=None,
              test_size=None, init="scaled", lam=1.0, eta=0.5, seed=2, out="x", study="widths", arm="lam-1")
    summary = {"run": run.record(), "sizes": [784, 100, 100, 10], "diverged": True, "collapsed": False}
    cols = _run_columns(tmp_path, summary)
    assert (cols["arm"], cols["hidden"], cols["sizes"]) == ("lam-1", "100-100", "784-100-100-10")
    assert cols["n_w"] == 784 * 100 + 100 * 100 + 100 * 10 and cols["diverged"] is True


def test_a_run_without_its_record_is_named_with_the_fix(tmp_path):

    run_jsons = fabricate(tmp_path / "runs")
    old = json.loads(Path(run_jsons[2]).read_text())
    Path(run_jsons[2]).write_text(json.dumps({k: v for k, v in old.items() if k != "run"}))
    with pytest.raises(DamagedRunError, match=r"seed~0 is damaged: no run record .* Delete the folder"):
        aggregate(run_jsons, tmp_path / "summary.parquet", tmp_path / "runs.csv")


def _study_runs(run_jsons: list[str]) -> list[Run]:
    """The spec's runs of fabricated folders, rebuilt from their records."""
    from decaylab.integrity import recorded_run

    return [recorded_run(json.loads(Path(p).read_text())["run"], str(Path(p).parent)) for p in run_jsons]


def test_a_study_with_many_damaged_runs_lists_them_in_a_file(tmp_path, monkeypatch):
    from decaylab.integrity import DamagedRunError, check_study

    monkeypatch.chdir(tmp_path)
    run_jsons = fabricate(Path("runs"))
    study_runs = _study_runs(run_jsons)
    check_study(study_runs, Path("runs.csv"), "snakemake", Path("logs/damaged.txt"))  # all intact: no error
    for p in run_jsons[:4]:
        Path(p).write_text("{")
    old = json.loads(Path(run_jsons[4]).read_text())
    Path(run_jsons[4]).write_text(json.dumps({k: v for k, v in old.items() if k != "metrics"}))  # older decaylab
    with pytest.raises(DamagedRunError, match=r"run.json is unreadable; and 2 more \(all listed in logs/damaged.txt\)"
                                              r"\. Retrain them: rm -rf \$\(cat logs/damaged.txt\) runs.csv"):
        check_study(study_runs, Path("runs.csv"), "snakemake", Path("logs/damaged.txt"))
    assert Path("logs/damaged.txt").read_text().split() == [str(Path(p).parent) for p in run_jsons[:4]]


def test_a_report_whose_summary_is_gone_is_named_stale(tmp_path, monkeypatch):
    from decaylab.integrity import DamagedRunError, check_study

    monkeypatch.chdir(tmp_path)
    run_jsons = fabricate(Path("runs"))
    study_runs = _study_runs(run_jsons)
    Path("report.md").write_text("old")
    with pytest.raises(DamagedRunError, match=r"report.md may be stale: its summary runs.csv is gone .* Rebuild it: "
                                              r"rm report.md && snakemake"):
        check_study(study_runs, Path("runs.csv"), "snakemake", Path("damaged.txt"), Path("report.md"))
    Path("runs.csv").write_text("run_dir\n")
    check_study(study_runs, Path("runs.csv"), "snakemake", Path("damaged.txt"), Path("report.md"))


@pytest.mark.parametrize("field,other", [("arm", "other"), ("init", "scaled"), ("lam", 50.0), ("eta", 2.0),
                                         ("hidden", [100]), ("seed", 7)])
def test_a_record_naming_another_grid_point_is_damage_field_by_field(tmp_path, field, other):
    """integrity.damage compares the recorded run with its folder's on every field that places it: one field
    changed at a time is caught and named."""
    from decaylab.integrity import damage

    (run_json,) = [p for p in fabricate(tmp_path) if "init~standard/lam~5/eta~0.5" in p and "seed~0" in p]
    summary = json.loads(Path(run_json).read_text())
    run = Run(dataset="synthetic", hidden=(30,), m=10, epochs=2, train_size=None, validation_size=None,
              test_size=None, init="standard", lam=5.0, eta=0.5, seed=0, out=str(Path(run_json).parent), study="s",
              arm="main")
    assert damage(run, set()) is None
    summary["run"][field] = other
    Path(run_json).write_text(json.dumps(summary))
    why = damage(run, set())
    assert why is not None and why.startswith("run.json records ")
    named = {"arm": "records other/", "seed": "seed 7", "hidden": "hidden~100", "init": "init~scaled",
             "lam": "lam~50", "eta": "eta~2"}[field]
    assert named in why, why


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5])
def test_the_damaged_runs_message_names_up_to_three_then_lists_them_in_a_file(tmp_path, monkeypatch, count):
    """The whole message, at the boundary where naming each run gives way to the listing file."""
    from decaylab.integrity import DamagedRunError, check_study

    monkeypatch.chdir(tmp_path)
    run_jsons = fabricate(Path("runs"))
    study_runs = _study_runs(run_jsons)
    for p in run_jsons[:count]:
        Path(p).write_text("[]")
    folders = [str(Path(p).parent) for p in run_jsons[:count]]
    lines = [f"{f} is damaged: run.json is unreadable" for f in folders]
    listing = Path("logs/deep/damaged.txt")
    if count <= 3:
        named, remove = "; ".join(lines), " ".join(folders)
    else:
        named = "; ".join(lines[:2]) + f"; and {count - 2} more (all listed in {listing})"
        remove = f"$(cat {listing})"
    with pytest.raises(DamagedRunError) as caught:
        check_study(study_runs, Path("runs.csv"), "snakemake -c2", listing)
    assert str(caught.value) == (f"{named}. Retrain {'it' if count == 1 else 'them'}: rm -rf {remove} runs.csv && "
                                 "snakemake -c2 --forcerun aggregate")
    assert listing.exists() is (count > 3)
    if count > 3:
        assert listing.read_text() == "".join(f"{f}\n" for f in folders)


def test_an_aggregated_run_whose_folder_is_gone_is_damage_and_a_run_not_yet_trained_is_not(tmp_path, monkeypatch):
    from decaylab.integrity import DamagedRunError, check_study

    monkeypatch.chdir(tmp_path)
    run_jsons = fabricate(Path("runs"))
    study_runs = _study_runs(run_jsons)
    gone, untrained = (Path(p).parent for p in run_jsons[:2])
    Path("runs.csv").write_text("run_dir,x\n" + "".join(f'"{Path(p).parent}",1\n' for p in run_jsons[:1]))
    for folder in (gone, untrained):
        for f in folder.iterdir():
            f.unlink()
    with pytest.raises(DamagedRunError) as caught:
        check_study(study_runs, Path("runs.csv"), "snakemake", Path("damaged.txt"))
    assert str(caught.value).startswith(f"{gone} is damaged: its files were deleted after the study was aggregated. "
                                        "Retrain it:")


@pytest.mark.parametrize("drop", ["init", "hidden", "book"])
def test_a_record_missing_a_field_is_named_incomplete(tmp_path, drop):
    from decaylab.integrity import damage

    run_json = fabricate(tmp_path)[0]
    summary = json.loads(Path(run_json).read_text())
    run = _study_runs([run_json])[0]
    del summary["run"][drop]
    Path(run_json).write_text(json.dumps(summary))
    assert damage(run, set()) == "run.json's run record is incomplete"


def test_a_files_fingerprint_is_its_size_and_sha256(tmp_path):
    import hashlib

    from decaylab.integrity import fingerprint

    (tmp_path / "f").write_bytes(b"abc")
    assert fingerprint(tmp_path / "f") == {"bytes": 3, "sha256": hashlib.sha256(b"abc").hexdigest()}


def test_a_record_without_the_metrics_fingerprint_names_the_mismatch_without_sizes(tmp_path):
    from decaylab.integrity import METRICS, metrics_damage

    (tmp_path / METRICS).write_bytes(b"x" * 10)
    assert metrics_damage(tmp_path, {}) == f"{METRICS} is not the file run.json recorded"
    assert metrics_damage(tmp_path, {"metrics": fingerprint(tmp_path / METRICS)}) is None
    assert metrics_damage(tmp_path / "gone", {}) == f"{METRICS} is missing"
