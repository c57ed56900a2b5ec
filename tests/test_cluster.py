"""The smoke study through the Slurm executor on a real one-node Slurm cluster, logging to one MLflow server.

Needs root (it starts munged, slurmctld and slurmd through tests/cluster/slurm.sh, which installs Slurm if
missing). CI runs it; elsewhere without root it is skipped with the reason.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SLURM = ROOT / "tests" / "cluster" / "slurm.sh"
pytestmark = [pytest.mark.slow, pytest.mark.cluster]

if os.geteuid() != 0:
    if os.environ.get("CI"):
        raise RuntimeError("the cluster test must run in CI, which runs as root")
    pytest.skip("starting a Slurm cluster needs root", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(base: str, path: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(base + "/api/2.0/mlflow/" + path, data=json.dumps(body).encode() if body else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def cluster():
    subprocess.run(["bash", str(SLURM), "start"], check=True, timeout=600)
    yield
    subprocess.run(["bash", str(SLURM), "stop"], check=True, timeout=120)


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
         "--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            urllib.request.urlopen(base + "/health", timeout=2)
            break
        except OSError:
            assert time.time() < deadline and server.poll() is None, "tracking server did not start"
            time.sleep(0.5)
    yield base
    server.terminate()
    server.wait(timeout=60)


def test_smoke_study_through_slurm_logs_to_one_tracking_server(cluster, tracking_server, tmp_path):
    for name in ("Snakefile", "workflow", "config", "profiles"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    env = dict(os.environ, MLFLOW_TRACKING_URI=tracking_server)
    started = time.time()
    result = subprocess.run([sys.executable, "-m", "snakemake", "--profile", "profiles/slurm", "--config",
                             "study=smoke", "members_per_job=0"],  # one Slurm job per cell
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200)
    print(f"slurm smoke study: {time.time() - started:.0f} s")
    assert result.returncode == 0, result.stderr[-4000:]
    log = result.stdout + result.stderr
    assert log.count("has been submitted with SLURM jobid") == 4  # the 4 training jobs went through Slurm
    assert len(list((tmp_path / "results/smoke/synthetic/runs").rglob("run.json"))) == 8
    assert (tmp_path / "reports/smoke/synthetic/report.md").exists()
    assert not (tmp_path / "mlflow.db").exists()  # nothing fell back to the local store
    experiment = api(tracking_server, "experiments/get-by-name?experiment_name=decaylab")["experiment"]
    runs = api(tracking_server, "runs/search", {"experiment_ids": [experiment["experiment_id"]],
                                                "max_results": 100})["runs"]
    tags = [{t["key"]: t["value"] for t in r["data"].get("tags", [])} for r in runs]
    parents = [r for r, t in zip(runs, tags) if t.get("decaylab.role") == "study"]
    children = [(r, t) for r, t in zip(runs, tags) if t.get("decaylab.role") != "study"]
    assert len(parents) == 1 and len(children) == 8
    for run, t in children:
        assert run["info"]["status"] == "FINISHED"
        assert t["mlflow.parentRunId"] == parents[0]["info"]["run_id"]
        keys = {m["key"] for m in run["data"]["metrics"]}
        assert {"net/acc_validation", "W1/decay", "W1/rms"} <= keys
