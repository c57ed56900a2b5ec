"""Write reports/<study>/report.md, publish it on the study's MLflow parent run, and close that run."""
import json
from pathlib import Path

from decaylab.report import publish, write_report
from decaylab.snake import log_to
from decaylab.tracking import end_study_run

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    claims, parent = (json.loads(open(path).read()) for path in (sm.input.claims, sm.input.tracking))
    write_report(claims, list(sm.input.runs), Path(sm.output.report), sm.params.description)
    publish(parent, claims, sm.params.description, sm.params.study_params, Path(sm.output.report),
            Path(sm.output.html), [Path(p) for p in (sm.input.claims, sm.input.table, *sm.input.figures)])
    end_study_run(parent, "FINISHED")
