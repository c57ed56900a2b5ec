"""Estimates before anything runs: a job that cannot fit the machine is refused with its estimate."""

import math
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from test_spec import CONFIG, ROOT

from decaylab.resources import START_S, ResourceError, job_memory, job_seconds, plan, study_seconds
from decaylab.spec import Run, jobs, runs, validate


def test_the_plan_line_and_a_job_too_large_for_the_machine():
    grid = runs(validate(CONFIG), "grid")
    grid_jobs = jobs(grid, 12)
    line = plan("grid", len(grid), grid_jobs, 2, 24, available=64e9)
    assert line.startswith("study grid: 72 runs in 6 training jobs; the largest needs about 0.9 GB")
    assert re.search(r"the whole study about (\d+) min with 2 jobs at a time, training (\d+ min|under a minute) "
                     r"of it \(estimates\)$", line), line
    assert job_memory(grid_jobs[0]) < 2e9 and 60 < job_seconds(grid_jobs[0]) < 600
    with pytest.raises(ResourceError, match=r"job train_000 \(12 networks, hidden \[30\]\) would need about 0.9 GB, "
                                            r"more than this machine's 0.5 GB"):
        plan("grid", len(grid), grid_jobs, 2, 24, available=0.5e9)


def _committed_times():
    """(study, dataset, measured job-minutes, measured training minutes) of every committed report of a study
    that trained for a minute or more (report.md rounds to 0.1 min)."""
    for report in sorted((ROOT / "reports").glob("*/*/report.md")):
        found = re.search(r"wall time of the training phase: ([\d.]+) min \(([\d.]+) job-minutes\)", report.read_text())
        if found and float(found[2]) >= 1:
            yield report.parts[-3], report.parts[-2], float(found[2]), float(found[1])


@pytest.mark.parametrize("study,dataset,job_minutes,wall_minutes", list(_committed_times()))
def test_time_estimates_are_within_2x_of_the_committed_studies_measured_times(study, dataset, job_minutes,
                                                                              wall_minutes):
    """Every committed study was trained on this kind of machine, two jobs at a time (--cores 2)."""
    config = validate({**CONFIG, "study": study, "dataset": dataset})
    study_jobs = jobs(runs(config), config["members_per_job"])
    assert 0.5 < sum(map(job_seconds, study_jobs)) / 60 / job_minutes < 2
    assert 0.5 < study_seconds(study_jobs, 2) / 60 / wall_minutes < 2


def test_time_grows_with_epochs_and_steps_and_a_long_study_is_refused_with_the_flag_that_allows_it():
    config = validate(CONFIG)
    short, = jobs(runs(config, "smoke"), 8)
    long = replace(short, runs=tuple(replace(r, epochs=10**6) for r in short.runs))
    small_batches = replace(short, runs=tuple(replace(r, m=1) for r in short.runs))
    assert job_seconds(long) - START_S == pytest.approx((job_seconds(short) - START_S) * 10**6 / 3)  # per epoch
    assert job_seconds(small_batches) > job_seconds(short)  # ten times the steps
    assert job_seconds(long) > 24 * 3600  # 10^6 tiny epochs: measured at >= 58 h, never "about 9 min"
    with pytest.raises(ResourceError, match=r"estimated at about \d+ h .* over time_limit_hours=24\. Run it anyway: "
                                            r"add time_limit_hours=\d+ to your --config items"):
        plan("smoke", 8, [long], 2, 24)
    hours = math.ceil(job_seconds(long) / 3600)
    line = plan("smoke", 8, [long], 2, hours)
    assert line.endswith(f"with 2 jobs at a time, training {job_seconds(long) / 3600:.0f} h of it (estimates)")


def test_the_study_time_packs_the_longest_jobs_first_into_the_free_slots():
    config = validate(CONFIG)
    grid_jobs = jobs(runs(config, "grid"), 12)
    each = [job_seconds(job) for job in grid_jobs]
    assert study_seconds(grid_jobs, 1) == pytest.approx(sum(each))
    assert study_seconds(grid_jobs, 100) == max(each)
    assert max(each) <= study_seconds(grid_jobs, 2) <= sum(each) / 2 + max(each)

    a, b, c = (jobs([replace(r, epochs=epochs) for r in runs(config, "smoke")], 8)[0] for epochs in (20, 10, 10))
    assert study_seconds([b, c, a], 2) == pytest.approx(max(job_seconds(a), job_seconds(b) + job_seconds(c)))



def test_memory_is_the_data_the_networks_and_the_evaluation_chunk_each_as_documented():
    """Term by term (resources' docstring): each example adds its pixels and one-hot classes; each network its
    weights' copies and its activations over an evaluation chunk (the widest layer past the input); below a chunk's
    size an example also widens the chunk; every term but the fixed allowance scales with the item size."""
    from decaylab.resources import BASE_BYTES, COPIES_OF_WEIGHTS, EVAL_CHUNK

    base = dict(dataset="mnist", hidden=(30,), m=10, epochs=1, init="standard", lam=1.0, eta=0.5, seed=0, out="o")

    def memory(k=1, train=20_000, itemsize=4):
        job, = jobs([Run(**base, train_size=train, validation_size=1000, test_size=1000, arm=str(i))
                     for i in range(k)], 8)
        return job_memory(job, itemsize)

    weights, pixels, classes, widest = 784 * 30 + 30 * 10, 784, 10, 30
    assert memory(train=20_001) - memory() == (pixels + classes) * 4
    assert memory(k=3) - memory(k=2) == (COPIES_OF_WEIGHTS * weights + 2 * EVAL_CHUNK * widest) * 4
    assert memory(k=2, train=5_001) - memory(k=2, train=5_000) == (pixels + classes + pixels + 2 * 2 * widest) * 4
    assert memory(k=2, itemsize=8) - BASE_BYTES == 2 * (memory(k=2) - BASE_BYTES)

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


@pytest.mark.slow
def test_snakemake_refuses_a_study_estimated_past_the_time_limit_and_runs_it_when_raised(tmp_path):
    overlay = tmp_path / "long.yaml"
    overlay.write_text(yaml.safe_dump({"studies": {"smoke": {
        "seeds": [0, 1], "defaults": {"dataset": "synthetic", "hidden": [[16]], "epochs": 10**6},
        "arms": {"main": {"lam": [0, 5]}}}}}))
    command = [sys.executable, "-m", "snakemake", "-n", "--cores", "2", "--configfile", str(overlay), "--config",
               "study=smoke"]
    refused = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    last = (refused.stdout + refused.stderr).strip().splitlines()[-1]
    assert refused.returncode != 0 and last.startswith("decaylab: study smoke: its training is estimated at about")
    hours = re.search(r"add time_limit_hours=(\d+) to your --config items", last)[1]
    allowed = subprocess.run([*command, f"time_limit_hours={hours}"], cwd=ROOT, capture_output=True, text=True,
                             timeout=120)
    assert allowed.returncode == 0 and "h with 2 jobs at a time, training" in allowed.stderr


@pytest.mark.parametrize("seconds,text", [(0, "under a minute"), (59.9, "under a minute"), (60, "about 1 min"),
                                          (3000, "about 50 min"), (5399, "about 90 min"), (5400, "about 2 h"),
                                          (36_000, "about 10 h")])
def test_durations_read_in_minutes_below_an_hour_and_a_half_then_hours(seconds, text):
    from decaylab.resources import _duration

    assert _duration(seconds) == text


def _smoke_jobs(count: int) -> list:
    config = validate(CONFIG)
    return jobs(runs(config, "smoke"), 8 // count)


@pytest.mark.parametrize("count,parallel", [(1, 1), (2, 1), (1, 2), (2, 2)])
def test_the_plan_line_whole_with_its_plurals(count, parallel):
    from decaylab.resources import ANALYSIS_S, _duration

    study_jobs = _smoke_jobs(count)
    total, memory = study_seconds(study_jobs, parallel), max(map(job_memory, study_jobs))
    assert plan("smoke", 8, study_jobs, parallel, 24, available=memory) == (  # exactly enough memory fits
        f"study smoke: 8 runs in {count} training job{'s' * (count > 1)}; the largest needs about {memory / 1e9:.1f} "
        f"GB, the longest {_duration(max(map(job_seconds, study_jobs)))} on one CPU thread; the whole study "
        f"{_duration(total + ANALYSIS_S)} with {parallel} job{'s' * (parallel > 1)} at a time, training "
        f"{_duration(total).removeprefix('about ')} of it (estimates)")
    with pytest.raises(ResourceError) as refused:
        plan("smoke", 8, study_jobs, parallel, 24, available=memory - 1)
    largest = max(study_jobs, key=job_memory)
    assert str(refused.value) == (
        f"study smoke: job {largest.name} ({len(largest.runs)} networks, hidden [16]) would need about "
        f"{memory / 1e9:.1f} GB, more than this machine's {(memory - 1) / 1e9:.1f} GB; lower members_per_job or the "
        "widths. Nothing was started.")


@pytest.mark.parametrize("parallel", [1, 2])
def test_a_study_of_exactly_the_time_limit_runs_and_one_second_more_is_refused_whole(parallel):
    from decaylab.resources import _duration

    long = [replace(job, runs=tuple(replace(r, epochs=10**5) for r in job.runs)) for job in _smoke_jobs(2)]
    total = study_seconds(long, parallel)
    plan("smoke", 8, long, parallel, total / 3600)
    with pytest.raises(ResourceError) as refused:
        plan("smoke", 8, long, parallel, (total - 1) / 3600)
    limit = (total - 1) / 3600
    assert str(refused.value) == (
        f"study smoke: its training is estimated at {_duration(total)} with {parallel} job{'s' * (parallel > 1)} at a "
        f"time (the longest job {_duration(max(map(job_seconds, long)))}), over time_limit_hours={limit:g}. Run it "
        f"anyway: add time_limit_hours={math.ceil(total / 3600)} to your --config items; or lower the epochs or the "
        "grid. Nothing was started.")


@pytest.mark.parametrize("sizes", [[784, 30, 10], [784, 100, 100, 10], [64, 16, 10]])
def test_the_estimates_count_the_weights_as_the_summary_does(sizes):
    """resources and aggregate count a network's weights apart; the book network has 23,820."""
    from decaylab.aggregate import _run_columns
    from decaylab.resources import _weights

    run = Run(dataset="mnist", hidden=tuple(sizes[1:-1]), m=10, epochs=1, train_size=None, validation_size=None,
              test_size=None, init="standard", lam=1.0, eta=0.5, seed=0, out="x")
    columns = _run_columns(Path("x"), {"run": run.record(), "sizes": sizes, "diverged": False, "collapsed": False})
    assert _weights(sizes) == columns["n_w"]
    assert _weights([784, 30, 10]) == 23_820


def test_the_whole_study_is_its_training_plus_the_analysis(monkeypatch):
    from decaylab import resources

    smoke = jobs(runs(validate(CONFIG), "smoke"), 8)
    monkeypatch.setattr(resources, "study_seconds", lambda jobs, parallel: 70.0)  # + ANALYSIS_S (25 s): 95 s
    assert plan("smoke", 8, smoke, 2, 24).endswith(
        "the whole study about 2 min with 2 jobs at a time, training 1 min of it (estimates)")
