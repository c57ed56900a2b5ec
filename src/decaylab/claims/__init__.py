"""The book's four claims, one module each, in the book's order: claims.json from a study's runs, and each
claim's figure. A fifth claim is one new module added to CLAIMS."""

from pathlib import Path

import pandas as pd

from decaylab.analyze import CELL_KEYS, DECAY_WINDOW, LEARNED_FRACTION, RUN_KEYS, stable, unstable_cells, wide
from decaylab.claims import book, decay_rate, dominance, init_comparison, tail_off
from decaylab.glossary import CHANCE_FACTOR
from decaylab.provenance import code_fingerprint

CLAIMS = [dominance.CLAIM, decay_rate.CLAIM, tail_off.CLAIM, init_comparison.CLAIM]
CLAIM_TITLES = {claim.key: claim.title for claim in CLAIMS}
FIGURES = {claim.figure: claim.caption for claim in CLAIMS}  # name: caption (report.md, Snakemake's report)


def analyze(summary: pd.DataFrame, runs: pd.DataFrame, study: str) -> dict:
    """claims.json: each claim's tables and verdict (status, answer, headline numbers), the book's examples."""
    tables = {False: wide(summary), True: wide(summary, collapsed=True)}  # w, without and with the collapsed runs
    every_run, runs = runs, stable(runs)
    measured = {claim.key: claim.measure(tables[claim.collapsed], runs) for claim in CLAIMS}
    judged = {claim.key: {**claim.judge(measured[claim.key], tables[claim.collapsed], measured),
                          **measured[claim.key]} for claim in CLAIMS}
    w = tables[False]
    judged["4_init_comparison"]["lam_contrasts"] = init_comparison.lam_contrasts(runs)
    thresholds = {"decay_window": DECAY_WINDOW, "learned_fraction": LEARNED_FRACTION, "chance_factor": CHANCE_FACTOR}
    for claim in CLAIMS:
        thresholds.update(claim.thresholds)
    return {
        "study": study, "code_fingerprint": code_fingerprint(), "datasets": sorted(every_run.dataset.unique()),
        "runs": len(every_run),
        "cells": sorted({"/".join(map(str, cell)) for cell in every_run[CELL_KEYS].itertuples(index=False)}),
        "thresholds": thresholds,
        "claims": judged,
        "book_examples": book.book_table(every_run, judged),
        "book_init_curves": book.init_curves(w, every_run),
        "diverged_runs": every_run[every_run.diverged][RUN_KEYS + ["run_dir"]].to_dict("records"),
        "collapsed_runs": every_run[every_run.collapsed][RUN_KEYS + ["run_dir"]].to_dict("records"),
        "unstable_cells": unstable_cells(every_run).to_dict("records"),
    }


def make(names, summary: pd.DataFrame, out_dir: Path, runs: pd.DataFrame | None = None) -> None:
    """Draw the named figures (PNG and SVG) into out_dir; runs (runs.csv) adds the book's reported accuracies."""
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper")
    tables = {False: wide(summary), True: wide(summary, collapsed=True)}
    for claim in CLAIMS:
        if claim.figure in names:
            claim.draw(tables[claim.collapsed], out_dir, runs)
