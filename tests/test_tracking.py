"""MLflow tracking and job outputs: every metric at every epoch, concurrency, killed and failed runs."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import make_job, make_run
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient
from test_data import closed_port_url

from decaylab import tracking
from decaylab import tracking as store  # where a test's `tracking` is the store's URI fixture
from decaylab.cli import main
from decaylab.signals import JobKilled, StopSignal
from decaylab.tracking import SUPERSEDED_TAG
from decaylab.train import run_job


def _runs(uri, experiment="decaylab"):
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    return client, client.search_runs([exp.experiment_id], max_results=1000)


def test_run_logs_every_metric_at_every_epoch(tmp_path, tracking, capsys, monkeypatch):
    import io

    from decaylab import train

    members = [make_run("standard", 1.0, 0.5, 0, str(tmp_path / "a"), arm="main"),
               make_run("scaled", 0.0, 0.5, 1, str(tmp_path / "b"), arm="main")]
    terminal = io.StringIO()
    monkeypatch.setattr(train, "PROGRESS_EVERY_S", 0.0)
    summaries = run_job(make_job(tmp_path, members, epochs=3), progress=terminal)
    progress = [line for line in capsys.readouterr().err.splitlines() if line.startswith("decaylab.train: epoch")]
    assert [line.split()[2] for line in progress] == ["0/3", "1/3", "2/3", "3/3"]
    assert progress[-1].endswith("(2 networks, 0 diverged)")
    # the terminal's lines: the time left while it runs, the total at the end
    shown = terminal.getvalue().splitlines()
    assert [line.split(": ")[2].split(",")[0] for line in shown] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert all("left (2 networks)" in line for line in shown[:2]) and "in all (2 networks)" in shown[2]
    client, runs = _runs(tracking)
    # names that a truncated runs table still tells apart; cells labelled for "Group by"; params as typed
    assert sorted(r.info.run_name for r in runs) == ["λ=0 η=0.5 scaled s=1 h=16", "λ=1 η=0.5 standard s=0 h=16"]
    assert sorted(r.data.tags["decaylab.cell"] for r in runs) == ["λ=0 η=0.5 scaled h=16", "λ=1 η=0.5 standard h=16"]
    for r in runs:
        assert {k: r.data.params[k] for k in ("lam", "eta", "hidden", "arm", "n", "m", "epochs")} == {
            "lam": "0" if r.data.params["init"] == "scaled" else "1", "eta": "0.5", "hidden": "16", "arm": "main",
            "n": "600", "m": "10", "epochs": "3"}
        assert "train_size" not in r.data.params  # unset settings are not logged as "None"
    lam_one = client.search_runs([runs[0].info.experiment_id], filter_string="params.lam = '1'")
    assert [r.info.run_name for r in lam_one] == ["λ=1 η=0.5 standard s=0 h=16"]
    for summary, mb in zip(summaries, members):
        table = pd.read_parquet(Path(mb.out) / "metrics.parquet")
        assert sorted(table.epoch.unique()) == [0, 1, 2, 3]
        assert not table.duplicated(["epoch", "layer", "metric"]).any()
        stored = json.loads((Path(mb.out) / "run.json").read_text())
        assert stored["mlflow_run_id"] == summary["mlflow_run_id"] and stored["diverged"] is False
        assert stored["run"]["init"] == mb.init and stored["run"]["n"] == 600
        assert (stored["members_in_job"], stored["streams_in_job"], stored["device"]) == (2, 2, "cpu")  # packing
        run = client.get_run(summary["mlflow_run_id"])
        assert run.info.status == "FINISHED"
        keys = {f"{layer}/{metric}" for layer, metric in zip(table.layer, table.metric)}
        assert keys == set(run.data.metrics)
        for key in keys:
            layer, metric = key.split("/")
            history = client.get_metric_history(run.info.run_id, key)
            expected_epochs = sorted(table[(table.layer == layer) & (table.metric == metric)].epoch)
            assert sorted(m.step for m in history) == expected_epochs
        artifacts = [a.path for a in client.list_artifacts(run.info.run_id)]
        assert artifacts == ["metrics.parquet", "run.json"]
        logged = client.download_artifacts(run.info.run_id, "run.json", str(tmp_path / "dl" / mb.label(with_seed=True)))
        assert json.loads(Path(logged).read_text()) == stored
    assert not (tmp_path / "mlruns").exists()


def _cli(tmp_path, out, seed, uri):
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "decaylab.cli", "--dataset", "synthetic", "--hidden", "8", "--epochs", "2",
         "--lam", "1", "--seed", str(seed), "--accelerator", "cpu", "--out", str(out)],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_eight_concurrent_jobs_into_a_new_store_lose_nothing(tmp_path, tracking):
    procs = [_cli(tmp_path, tmp_path / f"r{i}", i, tracking) for i in range(8)]
    for p in procs:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0, out
    client, runs = _runs(tracking)
    assert len(runs) == 8 and {r.info.status for r in runs} == {"FINISHED"}
    experiments = [e.name for e in client.search_experiments()]
    assert experiments.count("decaylab") == 1
    for r in runs:
        folder = r.data.tags[tracking_tag()].split(":", 1)[1]  # <project id>:<folder within the project>
        table = pd.read_parquet(tmp_path / folder / "metrics.parquet")
        logged = {(k, m.step) for k in r.data.metrics for m in client.get_metric_history(r.info.run_id, k)}
        assert logged == {(f"{la}/{me}", e) for e, la, me in zip(table.epoch, table.layer, table.metric)}
        assert table.epoch.nunique() == 3 and len(logged) == len(table)


def tracking_tag():
    return tracking.RUN_DIR_TAG


def test_sigterm_marks_run_killed_and_writes_nothing(tmp_path, tracking):
    env = dict(os.environ, MLFLOW_TRACKING_URI=tracking)
    proc = subprocess.Popen(
        [sys.executable, "-m", "decaylab.cli", "--dataset", "synthetic", "--hidden", "8", "--epochs", "100000",
         "--accelerator", "cpu", "--out", str(tmp_path / "k")], env=env, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    client = MlflowClient(tracking_uri=tracking)
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until training has logged an epoch
        exp = client.get_experiment_by_name("decaylab") if Path(tmp_path / "mlflow.db").exists() else None
        runs = client.search_runs([exp.experiment_id]) if exp else []
        if runs and runs[0].data.metrics.get("net/acc_train") is not None and proc.poll() is None:
            break
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, out
    assert "killed by SIGTERM" in out
    _, runs = _runs(tracking)
    assert [r.info.status for r in runs] == ["KILLED"]
    assert not (tmp_path / "k").exists() or not any((tmp_path / "k").iterdir())


def test_a_signal_during_a_tracking_write_interrupts_after_it():
    """A write cut in half kept SQLite locked, so the run could not be marked KILLED (seen under CPU load)."""
    stop = StopSignal()
    old = signal.signal(signal.SIGTERM, stop)
    done = []
    try:
        with pytest.raises(JobKilled, match="SIGTERM"):
            with stop.deferred():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.1)  # the handler has run by now
                done.append("write finished")
        with pytest.raises(JobKilled):  # outside a write it interrupts at once
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.1)
            done.append("not reached")
    finally:
        signal.signal(signal.SIGTERM, old)
    assert done == ["write finished"]


def test_rerun_of_a_folder_supersedes_earlier_runs(tmp_path, tracking):
    client, exp_id = tracking_client_and_experiment()
    out = str(tmp_path / "run")
    stale = client.create_run(exp_id, tags={tracking_tag(): store.project_key(out)}).info.run_id  # as if SIGKILLed
    first = run_job(make_job(tmp_path, [make_run("standard", 1.0, 0.5, 0, out)], epochs=1))[0]["mlflow_run_id"]
    assert client.get_run(stale).info.status == "KILLED"
    second = run_job(make_job(tmp_path, [make_run("standard", 1.0, 0.5, 0, out)], epochs=1))[0]["mlflow_run_id"]
    tags = {r: client.get_run(r).data.tags for r in (stale, first, second)}
    assert tags[stale][SUPERSEDED_TAG] == tags[first][SUPERSEDED_TAG] == "true"
    assert SUPERSEDED_TAG not in tags[second]
    assert client.get_run(first).info.status == "FINISHED"
    # superseded runs are soft-deleted: the runs table (active runs) shows one run per folder
    assert [client.get_run(r).info.lifecycle_stage for r in (stale, first, second)] == ["deleted", "deleted", "active"]
    assert [r.info.run_id for r in client.search_runs([exp_id])] == [second]


def _study_run_ids(client, parent: dict) -> list[str]:
    """Every study run (live or deleted) of the parent's results folder, oldest first."""
    runs = client.search_runs([parent["experiment_id"]], run_view_type=ViewType.ALL,
                              filter_string=f"tags.`{store.RESULTS_TAG}` = '{store.project_key(parent['results'])}'",
                              order_by=["attributes.start_time ASC"])
    return [r.info.run_id for r in runs]


def test_a_rerun_study_leaves_one_live_parent(tmp_path, tracking):
    store.start_study_run("decaylab", "smoke", "synthetic", str(tmp_path / "results/smoke"))
    other = store.start_study_run("decaylab", "smoke", "synthetic", str(tmp_path / "elsewhere/results/smoke"))
    second = store.start_study_run("decaylab", "smoke", "synthetic", str(tmp_path / "results/smoke"))
    client = MlflowClient(tracking_uri=tracking)
    live = client.search_runs([second["experiment_id"]])
    old, new = _study_run_ids(client, second)
    assert sorted(r.info.run_id for r in live) == sorted([*_study_run_ids(client, other), new])
    old = client.get_run(old)
    assert old.info.lifecycle_stage == "deleted" and old.info.status == "KILLED"
    assert second["runs_address"] == (f"http://127.0.0.1:5000/#/experiments/{second['experiment_id']}/runs"
                                      "?workflowType=machine_learning&searchFilter="
                                      "tags.%60decaylab.study%60%20%3D%20%27smoke%27%20and%20tags.%60decaylab.dataset"
                                      "%60%20%3D%20%27synthetic%27")


def test_the_experiment_describes_every_metric_a_run_logs(tmp_path, tracking):
    from decaylab.glossary import METRICS

    out = tmp_path / "run"
    run_job(make_job(tmp_path, [make_run("standard", 1.0, 0.5, 0, str(out))], epochs=1))
    metrics = set(pd.read_parquet(out / "metrics.parquet").metric)
    assert metrics == set(METRICS)  # every logged name described, no description of a name never logged
    parent = store.start_study_run("decaylab", "smoke", "synthetic", str(tmp_path / "results"))
    note = MlflowClient(tracking_uri=tracking).get_experiment(parent["experiment_id"]).tags[store.NOTE_TAG]
    for name, meaning in METRICS.items():
        assert f"| `{name}` | {meaning} |" in note


def test_a_deleted_study_run_is_noticed_and_replaced(tmp_path, tracking, capsys, monkeypatch):
    """Jobs attach to the study's live run, found by its tag: a study run deleted in the UI gets no more children."""
    monkeypatch.chdir(tmp_path)
    parent = store.start_study_run("decaylab", "smoke", "synthetic", "results/smoke/synthetic")
    client = MlflowClient(tracking_uri=tracking)
    (deleted,) = _study_run_ids(client, parent)
    client.delete_run(deleted)
    job = make_job(tmp_path, [make_run(out="results/smoke/synthetic/runs/a", study="smoke")], epochs=1,
                   study_results="results/smoke/synthetic")
    child = run_job(job)[0]["mlflow_run_id"]
    assert "is missing or deleted; a new one is started" in capsys.readouterr().err
    replaced = _study_run_ids(client, parent)[-1]
    assert replaced != deleted and client.get_run(replaced).info.lifecycle_stage == "active"
    assert client.get_run(child).data.tags["mlflow.parentRunId"] == replaced


@pytest.mark.parametrize("name", ["it's", 'say "hi"'])
def test_filter_strings_quote_any_name_with_one_kind_of_quote(tmp_path, tracking, name):
    client, exp_id = tracking_client_and_experiment()
    run = client.create_run(exp_id, tags={tracking_tag(): name}).info.run_id
    store.supersede(client, exp_id, tracking_tag(), name)
    assert client.get_run(run).info.lifecycle_stage == "deleted"
    with pytest.raises(store.TrackingError, match="both quote characters"):
        store.quoted("it's \"both\"")


def tracking_client_and_experiment():
    return tracking.client_and_experiment("decaylab")


def test_a_job_started_while_the_server_is_down_trains_offline(tmp_path, monkeypatch, capsys):
    """Like W&B's offline mode: the run is trained and written, marked pending for decaylab.sync, and the store's
    absence costs seconds, not the job (nothing says "unexpected" or "a bug")."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", closed_port_url())
    code = main(["--dataset", "synthetic", "--epochs", "1", "--accelerator", "cpu", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 0 and "is unreachable" in err and "unexpected" not in err and "a bug" not in err
    assert json.loads((tmp_path / "x" / "run.json").read_text())["tracking"] == "pending"


def test_a_damaged_sqlite_store_is_named_with_its_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("mlflow.db").write_bytes(b"this is not a database" * 100)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")
    assert main(["--dataset", "synthetic", "--epochs", "1", "--accelerator", "cpu", "--out", "x"]) == 0
    err = capsys.readouterr().err
    assert "mlflow.db is damaged" in err and "mv mlflow.db mlflow.db.damaged" in err and "unexpected" not in err
    assert json.loads(Path("x/run.json").read_text())["tracking"] == "pending"


def test_file_store_uri_is_refused(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "./mlruns")
    with pytest.raises(store.TrackingError, match="file store is not supported"):
        tracking.tracking_uri()
