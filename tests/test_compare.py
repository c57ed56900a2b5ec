"""decaylab.compare: what a rerun must match to reproduce a committed report (the README's promise)."""

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from decaylab import compare
from decaylab.compare import differences, main

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "reports/smoke/synthetic/claims.json"


@pytest.fixture
def claims():
    return json.loads(COMMITTED.read_text())


def _first_headline(c: dict) -> dict:
    return next(h for claim in c["claims"].values() for h in claim["headline"] if h.get("ci95"))


def test_a_copy_reproduces_and_each_kind_of_difference_is_named(claims):
    assert differences(copy.deepcopy(claims), claims) == []
    for change, words in [
        (lambda c: c["claims"]["1_early_decay_dominance"].update(status="holds-conditionally"), "status"),
        (lambda c: c.update(code_fingerprint="0" * 16), "fingerprint"),
        (lambda c: c.setdefault("unstable_cells", []).append({"arm": "main"}), "unstable_cells"),
        (lambda c: c["collapsed_runs"].append({"seed": 9}), "collapsed_runs"),
    ]:
        new = copy.deepcopy(claims)
        change(new)
        found = differences(new, claims)
        assert len(found) == 1 and words in found[0], found


@pytest.mark.parametrize("shift,reproduces", [(0.99, True), (1.01, False), (-1.01, False)])
def test_a_headline_must_stay_within_the_committed_half_width(claims, shift, reproduces):
    new = copy.deepcopy(claims)
    h, old = _first_headline(new), _first_headline(claims)
    h["mean"] = old["mean"] + shift * (old["ci95"][1] - old["ci95"][0]) / 2
    assert (differences(new, claims) == []) is reproduces


def test_the_command_compares_the_working_tree_with_git_head(tmp_path, claims):
    """Exit 0 on the committed file itself; 1, naming the claim, against a changed copy; 2 with nothing to read."""
    assert main([str(COMMITTED.parent)]) == 0
    changed = copy.deepcopy(claims)
    changed["claims"]["4_init_comparison"]["status"] = "holds"
    (tmp_path / "claims.json").write_text(json.dumps(changed))
    result = subprocess.run([sys.executable, "-m", "decaylab.compare", str(tmp_path), "--against", str(COMMITTED)],
                            capture_output=True, text=True)
    assert result.returncode == 1 and "claim 4_init_comparison: status holds" in result.stdout
    assert main([str(tmp_path / "missing")]) == 2


def _study(**headline) -> dict:
    """A one-claim claims.json with one headline."""
    return {"code_fingerprint": "f" * 16, "unstable_cells": [], "diverged_runs": [], "collapsed_runs": [],
            "claims": {"1_a": {"status": "holds", "headline": [{"name": "h", "mean": 1.0, "ci95": [0.5, 1.5],
                                                                **headline}]},
                       "2_b": {"status": "fails", "headline": []}}}


@pytest.mark.parametrize("change,lines", [
    (lambda c: c.update(code_fingerprint="0" * 16),
     [f"made by other number-moving code: fingerprint {'0' * 16} against {'f' * 16}"]),
    (lambda c: c["claims"].pop("2_b"), ["claim 2_b: status None against fails"]),
    (lambda c: c["diverged_runs"].append({}), ["diverged_runs: 1 against 0"]),
    (lambda c: c["unstable_cells"].append({}), ["unstable_cells: 1 against 0"]),
    (lambda c: c["claims"]["1_a"].update(headline=[]), ["claim 1_a, h: missing in the rerun"]),
    (lambda c: c["claims"]["1_a"]["headline"][0].update(mean=None), ["claim 1_a, h: None against 1.0"]),
    (lambda c: c["claims"]["1_a"]["headline"][0].update(mean=1.6),
     ["claim 1_a, h: 1.6 against 1 (allowed ± 0.5)"]),
    (lambda c: c["claims"]["1_a"].update(status="fails", headline=[]),
     ["claim 1_a: status fails against holds", "claim 1_a, h: missing in the rerun"]),
], ids=["fingerprint", "claim-missing", "diverged", "unstable", "headline-missing", "mean-none", "mean-off", "two"])
def test_each_difference_is_one_line_naming_what_and_against_what(change, lines):
    new = _study()
    change(new)
    assert differences(new, _study()) == lines


def test_a_headline_the_committed_report_could_not_measure_must_stay_unmeasured():
    assert differences(_study(mean=None), _study(mean=None)) == []
    assert differences(_study(mean=2.0), _study(mean=None)) == ["claim 1_a, h: 2.0 against None"]
    two = _study()
    two["claims"]["1_a"]["headline"] = [{"name": "g", "mean": None}, {"name": "h", "mean": 3.0, "ci95": [2.5, 3.5]}]
    assert differences(two, two | {"claims": {**two["claims"], "1_a": {"status": "holds", "headline": [
        {"name": "g", "mean": None}, {"name": "h", "mean": 1.0, "ci95": [0.5, 1.5]}]}}}) == [
        "claim 1_a, h: 3 against 1 (allowed ± 0.5)"]  # a measured headline after an unmeasured one is still judged


@pytest.mark.parametrize("mean,reproduces", [(1.0 + 0.9e-9, True), (1.0 + 1.1e-9, False)])
def test_a_headline_without_an_interval_must_match_to_one_part_in_a_billion(mean, reproduces):
    assert (differences(_study(mean=mean, ci95=None), _study(ci95=None)) == []) is reproduces


def _git_repo(tmp_path: Path, committed: dict) -> Path:
    folder = tmp_path / "reports/x/y"
    folder.mkdir(parents=True)
    (folder / "claims.json").write_text(json.dumps(committed))
    for args in (["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c"]):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)
    return folder


def test_committed_reads_the_file_as_gits_head_holds_it(tmp_path):
    folder = _git_repo(tmp_path, _study())
    (folder / "claims.json").write_text("changed in the working tree")
    assert compare.committed(folder / "claims.json") == _study()
    with pytest.raises(FileNotFoundError, match=r"git's HEAD has no .*other.json: fatal"):
        compare.committed(folder / "other.json")


def test_the_command_says_identical_reproduces_or_each_difference(tmp_path, capsys):
    folder = _git_repo(tmp_path, _study())
    assert main([str(folder)]) == 0
    assert capsys.readouterr().out == f"{folder / 'claims.json'}: identical to the committed report\n"
    (folder / "claims.json").write_text(json.dumps(_study(mean=1.4)))
    assert main([str(folder / "claims.json")]) == 0
    assert capsys.readouterr().out == (f"{folder / 'claims.json'}: reproduces the committed report (same statuses; "
                                       "every headline within the committed interval)\n")
    other = tmp_path / "other.json"
    other.write_text(json.dumps(_study(mean=3.0)))
    assert main([str(folder), "--against", str(other)]) == 1
    assert capsys.readouterr().out == (f"{folder / 'claims.json'}: does not reproduce the committed report:\n"
                                       "  claim 1_a, h: 1.4 against 3 (allowed ± 0.5)\n")
    other.write_text("{not json")
    assert main([str(folder), "--against", str(other)]) == 2
    assert capsys.readouterr().err.startswith("decaylab.compare: Expecting property name")
