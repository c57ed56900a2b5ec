"""Every verdict re-derived from the tables printed beside it: the status and the answer's first count, per claim,
in every committed report and on constructed studies (the class of the W3 bug: a count that its own table
contradicts)."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from test_analyze import fake_network, fake_runs
from test_verdicts import _init_pair, _two_layers

from decaylab.claims import CLAIMS, decay_rate, dominance, init_comparison, tail_off

ROOT = Path(__file__).resolve().parents[1]


def _judged(table: list[dict], held: str) -> list[bool]:
    """The settings a claim judges (standard init, whole network, a window of at least one epoch)."""
    return [r[held] for r in table if r["init"] == "standard" and r["layer"] == "net" and r["resolved"]]


REDERIVE = {  # claim key: its judged settings' outcomes, from its own tables
    "1_early_decay_dominance": lambda c: _judged(c["table"], "size_reading_holds"),
    "2_decay_rate": lambda c: _judged(c["table"], "holds"),
    "3_tail_off": lambda c: [r["form_holds"] and r["magnitude_holds"] for r in c["network_law"]
                             if r["init"] == "standard"],
    "4_init_comparison": lambda c: [r["equivalent"] for r in c.get("accuracy_table", [])],
}


def check(key: str, claim: dict) -> None:
    if claim["status"] == "not-testable":
        return
    outcomes = REDERIVE[key](claim)
    held, total = sum(outcomes), len(outcomes)
    status = "holds" if held == total else "fails" if held == 0 else "holds-conditionally"
    assert claim["status"] == status, f"{key}: {claim['status']} but its table gives {held}/{total}"
    first = re.search(r"(\d+)/(\d+) settings", claim["answer"])
    assert first and (int(first[1]), int(first[2])) == (held, total), f"{key}: {claim['answer']}"


@pytest.mark.parametrize("path", sorted((ROOT / "reports").glob("*/*/claims.json")),
                         ids=lambda p: f"{p.parts[-3]}/{p.parts[-2]}")
def test_every_committed_verdict_follows_from_its_tables(path):
    claims = json.loads(path.read_text())["claims"]
    assert list(claims) == [c.key for c in CLAIMS]
    for key, claim in claims.items():
        check(key, claim)


def _verdict(module, w: pd.DataFrame, measured: dict | None = None) -> dict:
    claim = module.CLAIM.measure(w, w[["arm", "init", "lam", "eta", "hidden", "seed"]].drop_duplicates())
    return {**module.CLAIM.judge(claim, w, measured or {}), **claim}


@pytest.mark.parametrize("key,make", [
    ("1_early_decay_dominance",
     lambda: _verdict(dominance, pd.concat([_two_layers(0.05, 0.05), _two_layers(5.0, 5.0, lam=1.0)]))),
    ("2_decay_rate",
     lambda: _verdict(decay_rate, w := pd.concat([fake_network(hidden=("10", "30"), lam=10.0, n=n, m=n, exact=True,
                                                              epochs=60) for n in (250, 25)]),
                      {"1_early_decay_dominance": dominance.CLAIM.measure(w, None)})),
    ("3_tail_off",
     lambda: _verdict(tail_off, pd.concat([fake_network(prefactor=1.0), fake_network(prefactor=3.5, lam=10.0),
                                           fake_runs(widths=(10, 30)).assign(lam=5.0)]))),
    ("4_init_comparison",
     lambda: _verdict(init_comparison, pd.concat([_init_pair(0.06, 0.002, 1.0),
                                                  _init_pair(0.06, 0.03, 1.0, lam=5.0)]))),
], ids=["1", "2", "3", "4"])
def test_a_constructed_study_where_some_settings_hold_and_some_fail(key, make):
    claim = make()
    assert claim["status"] == "holds-conditionally"
    check(key, claim)
