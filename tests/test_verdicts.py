"""Each claim's status, answer and headline numbers, on constructed runs whose answers are known."""

import math

import pandas as pd
import pytest
from scipy.stats import t as student_t
from test_analyze import fake_runs

from decaylab import verdicts
from decaylab.analyze import claim_tail_off, interval


def test_interval_is_students_t_over_seeds():
    got = interval([1.0, 2.0, 3.0])
    half = student_t.ppf(0.975, 2) * 1.0 / math.sqrt(3)
    assert got["mean"] == 2.0 and got["ci95"] == pytest.approx([2 - half, 2 + half]) and got["seeds"] == 3
    assert interval([0.5]) == {"mean": 0.5, "ci95": None, "seeds": 1}


def _two_layers(w1_drift: float, w2_drift: float, lam: float = 10.0) -> pd.DataFrame:
    w1 = fake_runs(epochs=5, lam=lam).assign(drift=w1_drift)
    return pd.concat([w1, w1.assign(layer="W2", n_in=30, drift=w2_drift)], ignore_index=True)


@pytest.mark.parametrize("w1,w2,status,words", [
    (0.05, 0.05, "holds", "for W1 in all 3 settings; for W2 in all 3 settings"),
    (0.05, 5.0, "holds-conditionally", "for W1 in all 3 settings; for W2 in none of 3 settings"),
    (5.0, 5.0, "fails", "for W1 in none of 3 settings"),
])
def test_dominance_status_names_the_layer_where_it_holds(w1, w2, status, words):
    got = verdicts.dominance(_two_layers(w1, w2))
    assert got["status"] == status and words in got["answer"]
    assert [h["name"].split(" ")[0] for h in got["headline"]] == ["W1", "W1", "W2"]
    assert "where most" in got["headline"][0]["name"] and "where least" in got["headline"][1]["name"]
    assert all(h["ci95"][0] <= h["mean"] <= h["ci95"][1] for h in got["headline"])


def test_a_condition_on_eta_lam_over_m_is_named():
    """Decay dominates where eta*lam/m is large: the answer gives the threshold."""
    cells = [fake_runs(epochs=5, lam=lam).assign(drift=0.05 if lam >= 10 else 5.0) for lam in (1.0, 10.0, 100.0)]
    got = verdicts.dominance(pd.concat(cells, ignore_index=True))
    assert got["status"] == "holds-conditionally" and "where ηλ/m ≥ 0.5 (6/9 settings)" in got["answer"]


def test_decay_rate_status_and_its_per_seed_error():
    exact = verdicts.decay_rate(fake_runs(epochs=5), 2e-7)
    assert exact["status"] == "holds" and exact["headline"][0]["mean"] == pytest.approx(0, abs=1e-12)
    assert "to 2.0e-07 in log" in exact["answer"]
    slow = verdicts.decay_rate(fake_runs(epochs=5, rate_factor=0.7), None)
    assert slow["status"] == "fails" and slow["headline"][0]["mean"] == pytest.approx(0.3)


def test_what_the_runs_cannot_test_is_named_never_nan():
    no_decay = fake_runs(epochs=5).assign(lam=0.0)
    for got in (verdicts.dominance(no_decay), verdicts.decay_rate(no_decay, None)):
        assert got == {"status": "not-testable", "answer": "Not testable here: no run with lam > 0.", "headline": []}
    assert "no decay-dominated epoch" in verdicts.decay_rate(fake_runs(epochs=5).assign(drift=50.0), None)["answer"]
    one_width = verdicts.tail_off(claim_tail_off(fake_runs(widths=(30,))))
    assert one_width["status"] == "not-testable" and "one network size (n_w = 23,820)" in one_width["answer"]
    assert verdicts.init_comparison(fake_runs(epochs=5))["status"] == "not-testable"
    for got in (one_width, verdicts.dominance(no_decay)):
        assert "nan" not in got["answer"].lower()


def test_tail_off_status_from_the_slope_interval():
    holds = verdicts.tail_off(claim_tail_off(fake_runs(widths=(10, 30, 100, 300))))
    assert holds["status"] == "holds" and "W1 -0.50" in holds["answer"]
    steeper = verdicts.tail_off(claim_tail_off(fake_runs(widths=(10, 30, 100, 300), power=1.0)))
    assert steeper["status"] == "fails" and "consistent with 1/n_w" in steeper["answer"]


def _init_pair(gap_epoch1: float, gap_final: float, ratio: float, lam: float = 10.0, arm: str = "a",
               seed_spread: float = 0.01) -> pd.DataFrame:
    """Standard and scaled runs of one setting, 3 seeds: the scaled init leads by gap_epoch1 after epoch 1 and
    gap_final at the end (exactly, in every seed), its weights 1/ratio of the standard init's."""
    std = fake_runs(widths=(30,), epochs=4, lam=lam).assign(arm=arm)
    rows = []
    for init, shift, scale in (("standard", 0.0, 1.0), ("scaled", 1.0, 1 / ratio)):
        w = std.assign(init=init, rms=std.rms * scale)
        net = pd.DataFrame([dict(arm=arm, init=init, lam=lam, eta=0.5, hidden="30", seed=s, epoch=e, layer="net",
                                 n=1000, m=10, epochs=4,
                                 acc_validation=0.8 + seed_spread * s + shift * (gap_epoch1 if e == 1 else gap_final))
                            for s in (0, 1, 2) for e in (1, 4)])
        rows += [w, net]
    return pd.concat(rows, ignore_index=True)


def test_init_gap_is_paired_per_seed_and_judged_by_equivalence():
    """Seed-to-seed spread cancels in the paired lead: the interval is exact (width 0) here, so a final lead of
    0.2 pp is equivalent to 0 within 1 pp, and one of 2 pp is not."""
    got = verdicts.init_comparison(_init_pair(0.06, 0.002, 1.0))
    first, last = got["headline"][:2]
    assert first["mean"] == pytest.approx(0.06) and first["ci95"] == pytest.approx([0.06, 0.06])
    assert last["mean"] == pytest.approx(0.002)
    assert got["status"] == "holds" and "+6.0 pp" in got["answer"] and "in 1/1 settings" in got["answer"]
    (row,) = got["accuracy_table"]
    assert row["closure"]["mean"] == pytest.approx(0.058) and row["equivalent"]
    apart = verdicts.init_comparison(_init_pair(0.06, 0.02, 4.0))
    assert apart["status"] == "fails" and not apart["accuracy_table"][0]["equivalent"]
    assert apart["weights_table"][0]["rms_ratio_final"]["mean"] == pytest.approx(4.0)


def test_equivalence_needs_the_interval_inside_the_margin_not_zero_inside_the_interval():
    """A noisy lead whose interval contains 0 is not equivalence (the old rule passed it); a tight one is."""
    assert not verdicts.equivalent([-0.02, 0.0, 0.02], 0.005)
    assert verdicts.equivalent([0.001, 0.002, 0.003], 0.005)
    assert not verdicts.equivalent([0.004, 0.0045, 0.005], 0.005)  # inside, but its interval reaches the margin
    assert not verdicts.equivalent([0.001], 0.005)  # never from one seed
    assert not verdicts.equivalent([-0.009, -0.0095, -0.0098], verdicts.SAME_ACCURACY)  # the lower side too


def test_claim4_contrasts_l2_with_the_same_setting_without_and_marks_unreachable_sizes():
    """The lead with L2 against the lead without (another arm, same eta, width, n, m, epochs, seed): the
    difference in differences; and a scaled init 20 times smaller than the standard one is out of reach of pure
    decay over 4 epochs at eta*lam/m = 0.5 (floor e^-2 = 0.135 > 0.05)."""
    w = pd.concat([_init_pair(0.06, 0.004, 20.0), _init_pair(0.06, 0.03, 20.0, lam=0.0, arm="noreg")],
                  ignore_index=True)
    got = verdicts.init_comparison(w)
    (row,) = got["accuracy_table"]
    assert row["lead_change_by_l2"]["mean"] == pytest.approx(0.004 - 0.03)
    assert row["standard_l2_minus_scaled_no_l2"]["mean"] == pytest.approx(-0.03)
    assert got["headline"][2]["mean"] == pytest.approx(-0.026)
    (weights,) = got["weights_table"]
    assert weights["pure_decay_floor"] == pytest.approx(math.exp(-2))
    assert weights["scaled_init_rms"] == pytest.approx(0.05)
    assert not weights["reachable"] and "in 1 of the others the scaled init's size is not reachable" in got["answer"]


def test_lam_contrasts_pair_runs_with_and_without_l2():
    runs = pd.DataFrame([dict(init="standard", lam=lam, eta=0.5, hidden="30", n=1000, seed=s,
                              acc_validation=0.80 + 0.01 * s + (0.03 if lam else 0),
                              acc_test=0.79 + (0.02 if lam else 0),
                              diverged=False, collapsed=False) for lam in (0.0, 0.1) for s in range(4)])
    (row,) = verdicts.lam_contrasts(runs)
    assert row["acc_validation_gain"]["mean"] == pytest.approx(0.03)
    assert row["acc_validation_gain"]["ci95"] == pytest.approx([0.03, 0.03])
    assert row["acc_test_gain"]["seeds"] == 4


def test_a_condition_on_the_init_is_named():
    """Decay dominates for the standard init only (four settings of it): the answer names the init."""
    cells = [fake_runs(epochs=5, lam=lam).assign(init=init, drift=0.05 if init == "standard" else 5.0)
             for lam in (1.0, 10.0) for init in ("standard", "scaled")]
    got = verdicts.dominance(pd.concat(cells, ignore_index=True).query("hidden != '100'"))
    assert got["answer"].endswith("for W1 with the standard init, in all its settings (4/8 settings).")


def test_claim4_counts_each_cell_on_the_layers_it_has():
    """Cells of different depths with identical inits (same weights, same accuracy): every cell is in the same
    place, a one-hidden-layer cell included, though it has no W3 (its ratio is missing, not different)."""
    rows = []
    for hidden, layers in (("30", ["W1", "W2"]), ("100-100", ["W1", "W2", "W3"])):
        for init in ("standard", "scaled"):
            for s in (0, 1, 2):
                for e in (0, 1, 4):
                    cell = dict(arm="a", init=init, lam=10.0, eta=0.5, hidden=hidden, seed=s, epoch=e, n=1000, m=10,
                                epochs=4)
                    rows.append(dict(cell, layer="net", acc_validation=0.8 + 0.01 * s))
                    rows += [dict(cell, layer=layer, rms=0.1 + 0.01 * s) for layer in layers]
    got = verdicts.init_comparison(pd.DataFrame(rows))
    assert got["status"] == "holds" and "in 2/2 settings" in got["answer"]
