import json
import re
import sys
from pathlib import Path

from decaylab.data import CACHE
from decaylab.claims import FIGURES
from decaylab.report import figure_labels
from decaylab.integrity import DamagedRunError, check_study
from decaylab.outputs import OutputError, check_writable
from decaylab.resources import ResourceError, plan
from decaylab.snake import (FAILURES_ENV, StudyRunningError, failure_summary, failures_file, hold_study_lock,
                            invocation, release_stale_snakemake_lock, summary_line, unpublished_notice)
from decaylab.spec import ConfigError, jobs, runs, skipped_arms, study_params, validate

RERUN = invocation(sys.argv)  # the user's own command: every fix decaylab prints repeats it
PACKING_CHOSEN = "members_per_job" in config  # set by the user (before the schema's default fills it in)
try:
    config.update(validate(config))  # the schema's defaults filled in; names a bad key and the allowed values
except ConfigError as exc:
    sys.exit(summary_line(exc))  # one line, before any job; no traceback

STUDY = config["study"]
RUNS = runs(config)
KEY = RUNS[0].study_key  # <study>/<dataset>: results/KEY, reports/KEY, logs/KEY
os.environ[FAILURES_ENV] = str(failures_file(KEY).resolve())  # local jobs note their failure there (snake.log_to)
SKIPPED = skipped_arms(config)
# left by a killed run of this study: a plain rerun recovers (never from a cluster job: its main process is live)
if workflow.is_main_process and (released := release_stale_snakemake_lock(KEY)):
    print(f"decaylab: removed the lock a killed run of study {STUDY} left ({', '.join(map(str, released))})",
          file=sys.stderr)
for arm, why in SKIPPED.items():
    print(f"decaylab: arm {arm} of study {STUDY} is skipped: {why}", file=sys.stderr)
def announce(line: str) -> None:
    print(f"decaylab: {line}", file=sys.stderr)


# the default's split of a seed's cells goes without notice
TRAIN_JOBS = jobs(RUNS, config["members_per_job"], notify=announce if PACKING_CHOSEN else lambda line: None)
try:  # a damaged run folder is never taken for a finished run, nor aggregated
    for folder in (f"results/{KEY}", f"reports/{KEY}", f"logs/{KEY}"):  # else a traceback deep in Snakemake
        check_writable(Path(folder))
    check_study(RUNS, Path(f"results/{KEY}/runs.csv"), RERUN, Path(f"logs/{KEY}/damaged-runs.txt"),
                Path(f"reports/{KEY}/report.md"))
    if workflow.is_main_process:  # a cluster job's own parse neither plans the study nor refuses it
        # jobs at a time: --jobs on a cluster executor, else --cores (each job takes one)
        parallel = workflow.global_resources["_nodes"].value or workflow.global_resources["_cores"].value
        print(f"decaylab: {plan(STUDY, len(RUNS), TRAIN_JOBS, parallel, config['time_limit_hours'])}",
              file=sys.stderr)
except (DamagedRunError, OutputError, ResourceError) as exc:
    sys.exit(summary_line(exc))


wildcard_constraints:
    key=re.escape(KEY),
    dataset=re.escape(RUNS[0].dataset),
    figure="|".join(FIGURES),


def run_files(name, study_runs=RUNS):
    """One file per run (grid point and seed)."""
    return [f"{run.out}/{name}" for run in study_runs]


def study_run():
    """Where the study's MLflow parent run is (results/<study>/<dataset>/mlflow.json), or None before tracking_setup."""
    path = f"results/{KEY}/mlflow.json"
    return json.loads(open(path).read()) if os.path.exists(path) else None


def end_study_run_if_started(status):
    """Close the study's MLflow parent run (onerror); the report rule closes it on success."""
    if (parent := study_run()) and parent["experiment_id"]:
        from decaylab.tracking import end_study_run

        end_study_run(parent, status)


def print_tracking_notices():
    """The closing lines on what MLflow lacks: runs trained while its store was down, a report not published."""
    from decaylab.sync import pending_notice

    notices = pending_notice(Path(f"results/{KEY}")), unpublished_notice(Path(f"logs/{KEY}/unpublished.txt"), RERUN)
    for line in notices:
        if line:
            print(line, file=sys.stderr)


def claim_the_study():
    """onstart: decaylab's own lock on the study, or the refusal as the one line the user sees; a fresh failures
    file for this run's jobs."""
    try:
        hold_study_lock(KEY)
    except StudyRunningError as exc:
        sys.exit(summary_line(exc))
    failures_file(KEY).unlink(missing_ok=True)


def print_failures(snakemake_logs):
    """The failed jobs' one-line causes and fixes, as the last lines the user sees."""
    for line in failure_summary(snakemake_logs, failures_file(KEY)):
        print(line, file=sys.stderr)


def print_runs_address():
    """Where the report is and where to browse the study in MLflow (onsuccess)."""
    if parent := study_run():
        from decaylab.tracking import browse_hint

        print(f"decaylab: report reports/{KEY}/report.md; {browse_hint(parent)}", file=sys.stderr)
