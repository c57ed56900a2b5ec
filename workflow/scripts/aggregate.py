"""Join every run of the study into results/<study>/summary.parquet and runs.csv."""
from pathlib import Path

from decaylab.aggregate import aggregate
from decaylab.snake import log_to

with log_to(snakemake.log[0]):  # noqa: F821
    aggregate(list(snakemake.input.runs), Path(snakemake.output.summary), Path(snakemake.output.runs))  # noqa: F821
