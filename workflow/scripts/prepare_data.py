"""Prepare one dataset once (download or read it, split it, cache it as .npz)."""
from pathlib import Path

from decaylab.data import prepare
from decaylab.snake import log_to

with log_to(snakemake.log[0]):  # noqa: F821
    prepare(snakemake.wildcards.dataset, Path(snakemake.params.cache), Path(snakemake.output[0]))  # noqa: F821
