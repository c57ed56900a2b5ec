"""Train one job: the seeds of its grid cells as one ensemble, one run folder and MLflow child run each."""
import json

from decaylab.snake import log_to
from decaylab.train import job_for_cells, run_job

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    print("cells:", *[cell.path for cell in sm.params.cells], sep="\n  ", flush=True)
    parent = json.loads(open(sm.input.tracking).read())
    run_job(job_for_cells(sm.params.cells, sm.input.data, parent, sm.params.accelerator, sm.threads))
