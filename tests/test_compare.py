"""decaylab.compare: what a rerun must match to reproduce a committed report (the README's promise)."""

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

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
