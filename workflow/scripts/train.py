"""Train one job: its runs as one ensemble, one run folder and MLflow child run each."""
import dataclasses
import json

from decaylab.snake import log_to
from decaylab.train import run_job

sm = snakemake  # noqa: F821
with log_to(sm.log[0]) as terminal:
    print("runs:", *[run.out for run in sm.params.job.runs], sep="\n  ", flush=True)
    parent = json.loads(open(sm.input.tracking).read())
    run_job(dataclasses.replace(sm.params.job, data_file=sm.input.data, accelerator=sm.params.accelerator,
                                threads=sm.threads, experiment=parent["experiment"],
                                study_results=parent["results"]), progress=terminal)
