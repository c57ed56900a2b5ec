"""Train one grid cell: its seeds as one ensemble job, one run folder and MLflow child run per seed."""
import json

from decaylab.snake import log_to
from decaylab.train import job_for_cell, run_job

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    parent = json.loads(open(sm.input.tracking).read())
    run_dirs = [path.rsplit("/", 1)[0] for path in sm.output.runs]
    run_job(job_for_cell(sm.params.cell, run_dirs, sm.input.data, parent, sm.params.accelerator, sm.threads))
