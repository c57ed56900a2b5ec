"""Estimates before anything runs: a job that cannot fit the machine is refused with its estimate."""

import subprocess
import sys
from dataclasses import replace

import pytest
import yaml
from test_spec import CONFIG, ROOT

from decaylab.resources import ResourceError, job_memory, job_seconds, plan
from decaylab.spec import jobs, runs, validate


def test_the_plan_line_and_a_job_too_large_for_the_machine():
    grid = runs(validate(CONFIG), "grid")
    grid_jobs = jobs(grid, 12)
    line = plan("grid", len(grid), grid_jobs, available=64e9)
    assert line.startswith("study grid: 72 runs in 6 training jobs; the largest needs about 0.9 GB")
    assert job_memory(grid_jobs[0]) < 2e9 and 60 < job_seconds(grid_jobs[0]) < 600
    with pytest.raises(ResourceError, match=r"job train_000 \(12 networks, hidden \[30\]\) would need about 0.9 GB, "
                                            r"more than this machine's 0.5 GB"):
        plan("grid", len(grid), grid_jobs, available=0.5e9)


def test_memory_grows_with_widths_and_members():
    config = validate(CONFIG)
    small, = jobs(runs(config, "smoke"), 8)
    wide, = jobs([replace(r, hidden=(100_000,)) for r in runs(config, "smoke")], 8)
    assert job_memory(wide) > 5e9 > 1e9 > job_memory(small)  # 8 networks of 7.4 M weights, activations 8 x 1,000 x 1e5


@pytest.mark.slow
def test_snakemake_refuses_a_study_that_cannot_fit_before_any_job(tmp_path):
    overlay = tmp_path / "huge.yaml"
    overlay.write_text(yaml.safe_dump({"studies": {"smoke": {
        "seeds": [0, 1], "defaults": {"dataset": "synthetic", "epochs": 1}, "arms": {"main": {"hidden": [[10**8]]}}}}}))
    result = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", str(overlay),
                             "--config", "study=smoke", "members_per_job=0"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "localrule" not in output and "Traceback" not in output
    last = output.strip().splitlines()[-1]
    assert last.startswith("decaylab: study smoke: job train_000 (2 networks, hidden [100000000]) would need about")
    assert "lower members_per_job or the widths" in last
