"""Create the MLflow experiment and the study's parent run once, before the jobs fan out."""
import json

from decaylab.atomic import write_text
from decaylab.snake import log_to
from decaylab.tracking import browse_hint, start_study_run

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    parent = start_study_run(sm.params.experiment, sm.params.study, sm.params.dataset, sm.params.results,
                             sm.params.description, sm.params.study_params)
    write_text(sm.output[0], json.dumps(parent, indent=2) + "\n")
    print(browse_hint(parent))
