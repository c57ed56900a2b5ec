"""Draw one of the study's figures (PNG and SVG) from its summary table (and runs.csv: the book's figures)."""
from pathlib import Path

import pandas as pd

from decaylab.claims import make
from decaylab.snake import log_to

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    make([sm.wildcards.figure], pd.read_parquet(sm.input.summary), Path(sm.output.png).parent,
         pd.read_csv(sm.input.runs, dtype={"hidden": str}))
