"""A failed job says in one line what went wrong and how to fix it; its traceback stays in its log."""

import subprocess
import sys
from pathlib import Path

import pytest

from decaylab.snake import StudyRunningError, failure_summary, hold_study_lock, invocation, release_stale_snakemake_lock


def _script(tmp_path, *body: str) -> subprocess.CompletedProcess:
    """Run a job script whose block under log_to prints a line, then runs `body`."""
    lines = ["from decaylab.snake import log_to", f"with log_to({str(tmp_path / 'job.log')!r}):",
             "    print('working')", *(f"    {line}" for line in body)]
    (tmp_path / "job.py").write_text("\n".join(lines) + "\n")
    return subprocess.run([sys.executable, str(tmp_path / "job.py")], capture_output=True, text=True, timeout=60)


def test_an_expected_error_prints_its_cause_and_fix_and_logs_the_traceback(tmp_path):
    result = _script(tmp_path, "from decaylab.data import DataError",
                     "raise DataError('cannot download X. Offline, use --config dataset=fashion-mnist')")
    log = (tmp_path / "job.log").read_text()
    assert result.returncode == 1 and "Traceback" not in result.stderr + result.stdout
    assert result.stderr.splitlines() == ["decaylab: cannot download X. Offline, use --config dataset=fashion-mnist",
                                          f"  (traceback: {tmp_path}/job.log)"]
    assert "working" in log and "Traceback" in log and "raise DataError" in log
    assert log.splitlines()[-1] == "decaylab: cannot download X. Offline, use --config dataset=fashion-mnist"


def test_a_bug_is_named_as_one_with_its_traceback_in_the_log(tmp_path):
    result = _script(tmp_path, "{}['missing']")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("decaylab: unexpected KeyError: 'missing' (a bug")
    assert "Traceback" in (tmp_path / "job.log").read_text()


def test_an_interrupt_passes_through(tmp_path):
    result = _script(tmp_path, "raise KeyboardInterrupt")
    assert result.returncode != 0 and "decaylab:" not in result.stderr
    assert "KeyboardInterrupt" in (tmp_path / "job.log").read_text()


def test_failure_summary_reads_each_failed_jobs_last_line(tmp_path):
    for name, lines in {"a.log": ["noise", "decaylab: first cause; fix A"], "b.log": ["no summary here"]}.items():
        (tmp_path / name).write_text("\n".join(lines) + "\n")
    main = tmp_path / "snakemake.log"
    main.write_text(f"Error in rule x:\n    log: {tmp_path}/a.log (check log file(s) for error details)\n"
                    f"Error in rule y:\n    log: {tmp_path}/b.log (check log file(s) for error details)\n"
                    f"Error in rule z:\n    log: {tmp_path}/a.log (check log file(s) for error details)\n")
    assert failure_summary([str(main)]) == ["decaylab: first cause; fix A",
                                            f"decaylab: a job failed; see {tmp_path}/b.log"]
    assert failure_summary([str(tmp_path / "absent.log")]) == []


@pytest.mark.parametrize("argv,expected", [
    (["{cwd}/.venv/bin/snakemake", "--cores", "2", "--configfile", "my.yaml", "--config", "study=book",
      "dataset=mnist-5k"], ".venv/bin/snakemake --cores 2 --configfile my.yaml --config study=book dataset=mnist-5k"),
    (["/usr/bin/snakemake", "-R", "aggregate", "figures", "--config", "study=grid", "--unlock", "-n"],
     "/usr/bin/snakemake --config study=grid"),
    (["/usr/bin/snakemake", "--forcerun=report", "--cores=2", "--config", "note=it's"],
     "/usr/bin/snakemake --cores=2 --config 'note=it'\"'\"'s'"),
])
def test_a_printed_fix_repeats_the_users_command_less_what_acted_once(tmp_path, argv, expected):
    assert invocation([word.format(cwd=tmp_path) for word in argv], cwd=tmp_path) == expected


def test_a_live_study_refuses_a_second_invocation_until_it_ends(tmp_path, monkeypatch):
    """decaylab's lock is held by the live process (another one here) and goes with it, kill -9 included."""
    monkeypatch.chdir(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from decaylab.snake import hold_study_lock; "
                               "hold_study_lock('smoke/synthetic'); print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    locks = Path(".snakemake/locks")  # as Snakemake has it, in the project's folder
    locks.mkdir(parents=True)
    for i, (inputs, outputs) in enumerate([  # Snakemake's lock files as a run writes them: one path a line
            ("results/smoke/synthetic/runs.csv", "results/data/synthetic.npz\nreports/smoke/synthetic/report.md"),
            ("results/book/synthetic/runs.csv", "results/data/synthetic.npz\nreports/book/synthetic/report.md"),
            ("results/smoke/synthetic/runs.csv", "reports/smoke/synthetic/report.md\nresults/elsewhere.txt")]):
        (locks / f"{i}.input.lock").write_text(inputs + "\n")
        (locks / f"{i}.output.lock").write_text(outputs + "\n")
    assert release_stale_snakemake_lock("smoke/synthetic") == []  # its owner lives
    with pytest.raises(StudyRunningError, match=rf"smoke/synthetic is already running .*pid {holder.pid}"):
        hold_study_lock("smoke/synthetic")
    hold_study_lock("book/synthetic")  # another study is free to run beside it
    holder.kill()
    holder.wait()
    removed = release_stale_snakemake_lock("smoke/synthetic")  # its owner is gone: a plain rerun recovers
    assert removed == [locks / "0.output.lock", locks / "0.input.lock"]
    assert sorted(p.name for p in locks.iterdir()) == ["1.input.lock", "1.output.lock", "2.input.lock",
                                                       "2.output.lock"]  # another study's, and one naming more
    hold_study_lock("smoke/synthetic")


def test_failure_summary_reads_the_lines_the_jobs_noted_when_snakemake_hides_its_error_blocks(tmp_path, monkeypatch):
    """With `quiet: rules` Snakemake's log names no job log: each failed job's line comes from the study's failures
    file, which log_to appends to (once per line, first the noted ones, then any the log names)."""
    from decaylab.snake import FAILURES_ENV, failures_file

    monkeypatch.chdir(tmp_path)
    path = failures_file("smoke/mnist")
    path.parent.mkdir(parents=True)
    monkeypatch.setenv(FAILURES_ENV, str(path))
    for cause in ("first", "first", "second"):
        job = _script(tmp_path, "from decaylab.errors import ExpectedError",
                      f"raise ExpectedError('{cause} cause; its fix')")
        assert job.returncode == 1
    (tmp_path / "snakemake.log").write_text("Exiting because a job execution failed.\n")
    assert failure_summary([str(tmp_path / "snakemake.log")], path) == ["decaylab: first cause; its fix",
                                                                       "decaylab: second cause; its fix"]
    assert failure_summary([str(tmp_path / "snakemake.log")], tmp_path / "none") == []
