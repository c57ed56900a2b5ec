"""Create the MLflow experiment and the study's parent run once, before the jobs fan out."""
import json

from decaylab.atomic import write_text
from decaylab.snake import log_to
from decaylab.tracking import start_study_run

with log_to(snakemake.log[0]):  # noqa: F821
    parent = start_study_run(snakemake.params.experiment, snakemake.params.study)  # noqa: F821
    write_text(snakemake.output[0], json.dumps(parent, indent=2) + "\n")  # noqa: F821
