"""Write reports/<study>/report.md and close the study's MLflow parent run."""
import json
from pathlib import Path

from decaylab.report import write_report
from decaylab.snake import log_to
from decaylab.tracking import end_study_run

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    write_report(json.loads(open(sm.input.claims).read()), list(sm.input.runs), Path(sm.output[0]),
                 sm.params.description)
    end_study_run(json.loads(open(sm.input.tracking).read()), "FINISHED")
