"""Write reports/<study>/<dataset>/report.md beside the two tables every number in it is computed from
(summary.parquet, runs.csv) and the landing page of Snakemake's report, publish the report on the study's MLflow
parent run, and close that run."""
import json
from pathlib import Path

from decaylab.atomic import copy_file, write_text
from decaylab.report import overview_rst, publish, write_report
from decaylab.snake import log_to
from decaylab.tracking import end_study_run

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    claims, parent = (json.loads(open(path).read()) for path in (sm.input.claims, sm.input.tracking))
    write_report(claims, list(sm.input.runs), Path(sm.output.report), sm.params.description, sm.params.study_params,
                 sm.params.skipped)
    for table in ("table", "summary"):
        copy_file(Path(sm.input[table]), Path(sm.output[table]))
    write_text(sm.output.overview, overview_rst(claims, sm.params.study_params))
    publish(parent, claims, sm.params.description, sm.params.study_params, Path(sm.output.report),
            Path(sm.output.html), [Path(p) for p in (sm.input.claims, sm.input.table, *sm.input.figures)],
            Path(sm.params.unpublished))
    end_study_run(parent, "FINISHED")
