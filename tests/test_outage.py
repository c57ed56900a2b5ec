"""Training survives its tracking store: a server killed mid-job, a SQLite store locked by another process.

The run folders are the source of truth: the job finishes and writes them, run.json says the run is not yet
logged, no MLflow run stays RUNNING once the store is back, and `python -m decaylab.sync` logs each run once.
"""

import json
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import make_job, make_run
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

from decaylab import sync
from decaylab.tracking import RUN_DIR_TAG, project_key
from decaylab.train import run_job

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow
EPOCHS = 40  # the server is killed after epoch 5: the job goes on without it for the rest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server(tmp_path: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
                             f"sqlite:///{tmp_path / 'server.db'}", "--artifacts-destination",
                             str(tmp_path / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
                             "--workers", "1"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("the MLflow server did not start")


def _live_runs(uri: str) -> list:
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("decaylab")
    return client.search_runs([exp.experiment_id], run_view_type=ViewType.ACTIVE_ONLY, max_results=1000)


def test_a_server_killed_mid_job_costs_the_tracking_not_the_training(tmp_path):
    import os
    import signal

    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    server = _server(tmp_path, port)
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri, PYTHONUNBUFFERED="1")
    job = subprocess.Popen([sys.executable, "-m", "decaylab.cli", "--dataset", "synthetic", "--hidden", "8",
                            "--epochs", str(EPOCHS), "--lam", "1", "--seed", "0", "1", "--accelerator", "cpu",
                            "--out", str(tmp_path / "results/s/runs/x")], env=env, cwd=tmp_path,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in job.stdout:  # the store has taken some epochs
        if f"epoch 5/{EPOCHS}" in line:
            break
    os.killpg(server.pid, signal.SIGKILL)
    killed = time.time()
    rest, _ = job.communicate(timeout=240)
    assert job.returncode == 0, rest
    assert time.time() - killed < 120
    assert "decaylab: 2 runs trained and written, not logged to MLflow" in rest
    folders = sorted((tmp_path / "results/s/runs/x").glob("seed~*"))
    assert [json.loads((f / "run.json").read_text())["tracking"] for f in folders] == ["pending", "pending"]

    server = _server(tmp_path, port)  # the store is back
    try:
        os.environ["MLFLOW_TRACKING_URI"] = uri
        os.chdir(tmp_path)  # sync runs in the project, as the job did
        assert sync.main(["results/s"]) == 0
        live = _live_runs(uri)
        assert sorted(r.data.tags[RUN_DIR_TAG] for r in live) == [project_key(f) for f in folders]
        assert {r.info.status for r in live} == {"FINISHED"}
        client = MlflowClient(tracking_uri=uri)
        for run in live:
            assert client.get_metric_history(run.info.run_id, "net/acc_train")[-1].step == EPOCHS
        assert all(json.loads((f / "run.json").read_text())["tracking"] == "logged" for f in folders)
        assert sync.main(["results/s"]) == 0  # again: nothing twice
        assert len(_live_runs(uri)) == 2
    finally:
        os.chdir(ROOT)
        os.environ.pop("MLFLOW_TRACKING_URI")
        os.killpg(server.pid, signal.SIGKILL)


def test_a_locked_sqlite_store_leaves_no_run_running_and_cleanup_never_crashes(tmp_path, tracking, capsys):
    out = tmp_path / "results/s/runs/x"
    run_job(make_job(tmp_path, [make_run(out=out / "warm")], epochs=1))  # the store exists
    locked, release = threading.Event(), threading.Event()

    def hold_lock():
        con = sqlite3.connect(tmp_path / "mlflow.db", timeout=60)
        con.execute("BEGIN EXCLUSIVE")
        locked.set()
        release.wait(60)
        con.rollback()
        con.close()

    def lock_after_start():
        time.sleep(3)  # the job has started its runs
        holder = threading.Thread(target=hold_lock)
        holder.start()
        locked.wait(30)
        time.sleep(25)  # longer than SQLite's busy timeout: the store fails mid-job
        release.set()
        holder.join()

    locker = threading.Thread(target=lock_after_start)
    locker.start()
    runs = [make_run(seed=s, out=out / f"seed~{s}") for s in (0, 1)]
    summaries = run_job(make_job(tmp_path, runs, epochs=400, dtype="float32"))
    locker.join()
    assert [s["tracking"] for s in summaries] == ["pending", "pending"]
    assert all((r.out and (Path(r.out) / "metrics.parquet").exists()) for r in runs)
    assert "RUNNING" not in {r.info.status for r in _live_runs(tracking)}
    assert "the tracking store failed" in capsys.readouterr().err


def test_a_study_finishes_through_a_store_outage_and_sync_files_its_runs_under_the_study(tmp_path):
    """The tracking server dies once the first training job has started: every later job trains offline, the
    study ends normally with one line counting the pending runs, and decaylab.sync files each under the study."""
    import os
    import re
    import signal

    from test_workflow import ONE_JOB_PER_CELL, scratch_workflow

    (tmp_path / "work").mkdir()
    work = scratch_workflow(tmp_path / "work")
    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    server = _server(tmp_path, port)
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri)
    study = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "2", *ONE_JOB_PER_CELL], cwd=work, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 300
    while not any((work / "logs/smoke/synthetic/train").glob("*.log")) and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(server.pid, signal.SIGKILL)
    out, _ = study.communicate(timeout=900)
    assert study.returncode == 0, out[-3000:]
    folders = sorted((work / "results/smoke/synthetic/runs").rglob("run.json"))
    assert len(folders) == 8 and (work / "reports/smoke/synthetic/report.md").exists()
    pending = [f.parent for f in folders if json.loads(f.read_text())["tracking"] == "pending"]
    lines = re.findall(r"^decaylab: (\d+) of 8 runs are not in MLflow yet.*decaylab\.sync results/smoke/synthetic$",
                       out, flags=re.M)
    assert lines == [str(len(pending))] and len(pending) >= 4, out[-3000:]
    assert "not published to MLflow" in out and "unexpected" not in out and "a bug" not in out

    server = _server(tmp_path, port)  # the store is back
    try:
        os.environ["MLFLOW_TRACKING_URI"] = uri
        os.chdir(work)
        for _ in range(2):  # twice: nothing is filed twice
            assert sync.main(["results/smoke/synthetic"]) == 0
        live = _live_runs(uri)
        (parent,) = [r for r in live if r.data.tags.get("decaylab.role") == "study"]
        children = [r for r in live if r is not parent]
        assert sorted(r.data.tags[RUN_DIR_TAG] for r in children) == sorted(project_key(f.parent) for f in folders)
        assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent.info.run_id}
    finally:
        os.chdir(ROOT)
        os.environ.pop("MLFLOW_TRACKING_URI")
        os.killpg(server.pid, signal.SIGKILL)
