import json
import re
import sys

from snakemake.utils import validate

from decaylab.snake import failure_summary, summary_line
from decaylab.study import ConfigError, cells, study_params, train_jobs, validate as validate_study

try:
    validate_study(config)  # names the bad key and the allowed values
except ConfigError as exc:
    sys.exit(summary_line(exc))  # one line, before any job; no traceback
validate(config, schema="../schemas/config.schema.yaml")

STUDY = config["study"]
CELLS = {cell.path: cell for cell in cells(config)}
TRAIN_JOBS = train_jobs(list(CELLS.values()), config["members_per_job"])  # default set by the schema
DATASETS = sorted({cell.dataset for cell in CELLS.values()})


wildcard_constraints:
    study=re.escape(STUDY),
    dataset="|".join(re.escape(name) for name in DATASETS),


def run_files(name):
    """One file per grid point (cell x seed) of the study."""
    return [f"{cell.run_dir(seed)}/{name}" for cell in CELLS.values() for seed in cell.seeds]


def study_run():
    """The study's MLflow parent run (results/<study>/mlflow.json), or None before tracking_setup wrote it."""
    path = f"results/{STUDY}/mlflow.json"
    return json.loads(open(path).read()) if os.path.exists(path) else None


def end_study_run_if_started(status):
    """Close the study's MLflow parent run (onerror); the report rule closes it on success."""
    if parent := study_run():
        from decaylab.tracking import end_study_run

        end_study_run(parent, status)


def print_failures(snakemake_logs):
    """The failed jobs' one-line causes and fixes, as the last lines the user sees."""
    for line in failure_summary(snakemake_logs):
        print(line, file=sys.stderr)


def print_runs_address():
    """Where the report is and where to browse the study in MLflow (onsuccess)."""
    if parent := study_run():
        from decaylab.tracking import browse_hint

        print(f"decaylab: report reports/{STUDY}/report.md; {browse_hint(parent)}", file=sys.stderr)
