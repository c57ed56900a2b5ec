"""Draw the study's figures (PNG and SVG) from its summary table."""
from pathlib import Path

import pandas as pd

from decaylab.figures import make_all
from decaylab.snake import log_to

with log_to(snakemake.log[0]):  # noqa: F821
    make_all(pd.read_parquet(snakemake.input.summary), Path(snakemake.output.png[0]).parent)  # noqa: F821
