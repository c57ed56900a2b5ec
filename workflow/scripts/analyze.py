"""Test the four claims on the study's runs and write reports/<study>/<dataset>/claims.json."""
import json

import pandas as pd

from decaylab.atomic import write_text
from decaylab.claims import analyze
from decaylab.snake import log_to

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    claims = analyze(pd.read_parquet(sm.input.summary), pd.read_csv(sm.input.runs, dtype={"hidden": str}),
                     sm.params.study)
    write_text(sm.output.claims, json.dumps(claims, indent=2, default=str) + "\n")
