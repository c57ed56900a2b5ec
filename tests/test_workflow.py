"""The smoke study end to end through Snakemake in a scratch copy of the workflow."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from decaylab.figures import FIGURES

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def scratch_workflow(tmp: Path) -> Path:
    for name in ("Snakefile", "workflow", "config", "profiles"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp / name)
    return tmp


def snakemake(cwd: Path, *args, timeout=900):
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--config", "study=smoke", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    work = scratch_workflow(tmp_path_factory.mktemp("smoke"))
    result = snakemake(work)
    assert result.returncode == 0, result.stderr[-4000:]
    return work


def test_smoke_study_produces_summary_claims_figures(smoke):
    summary = pd.read_parquet(smoke / "results/smoke/summary.parquet")
    runs = pd.read_csv(smoke / "results/smoke/runs.csv")
    assert len(runs) == 8 and runs[["init", "lam", "seed"]].drop_duplicates().shape[0] == 8
    assert set(summary.epoch) == {0, 1, 2, 3} and set(summary.layer) == {"W1", "W2", "net"}
    claims = json.loads((smoke / "reports/smoke/claims.json").read_text())
    assert set(claims["claims"]) == {"1_early_decay_dominance", "2_decay_rate", "3_tail_off", "4_init_comparison"}
    for claim in claims["claims"].values():
        assert claim["verdict"] and not claim["verdict"].startswith("not testable")
    assert claims["claims"]["2_decay_rate"]["dead_pixel_max_log_error"] < 1e-5
    for name in FIGURES:
        for ext in ("png", "svg"):
            assert (smoke / f"reports/smoke/figures/{name}.{ext}").stat().st_size > 1000
    report = (smoke / "reports/smoke/report.md").read_text()
    assert "### 3. Tail-off size" in report and "figures/tail_off.png" in report


def test_smoke_runs_are_in_mlflow_under_one_parent(smoke):
    client = MlflowClient(tracking_uri=f"sqlite:///{smoke / 'mlflow.db'}")
    exp = client.get_experiment_by_name("decaylab")
    runs = client.search_runs([exp.experiment_id], max_results=100)
    parents = [r for r in runs if r.data.tags.get("decaylab.role") == "study"]
    children = [r for r in runs if r not in parents]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert len(children) == 8
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        assert child.info.status == "FINISHED"
        history = client.get_metric_history(child.info.run_id, "net/acc_validation")
        assert sorted(m.step for m in history) == [0, 1, 2, 3]


def test_rerun_is_a_no_op(smoke):
    result = snakemake(smoke, "-n")
    assert result.returncode == 0 and "Nothing to be done" in result.stdout + result.stderr


def test_snakemake_report_builds(smoke):
    result = subprocess.run([sys.executable, "-m", "snakemake", "--config", "study=smoke", "--report",
                             "report.html"], cwd=smoke, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (smoke / "report.html").stat().st_size > 10_000
