"""The claim analysis on constructed runs whose answers are known."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from decaylab import analyze
from decaylab.claims import book, decay_rate
from decaylab.claims import tail_off as tail_off_claim
from decaylab.claims.decay_rate import claim_decay_rate
from decaylab.claims.dominance import claim_dominance
from decaylab.claims.init_comparison import claim_init
from decaylab.claims.tail_off import claim_tail_off, slope_over_seeds
from decaylab.claims.tail_off import layer_plateaus as tail_off


def fake_runs(widths=(10, 30, 100), seeds=(0, 1, 2), epochs=40, eta=0.5, lam=10.0, m=10, n=1000, power=0.5,
              rate_factor=1.0):
    """W1 RMS decays at exactly rate_factor x eta*lam/m per epoch (in log) from 1 to a plateau 3/n_w^power (plus
    seed noise)."""
    rows = []
    rate = eta * lam / m * rate_factor
    for h in widths:
        n_w = 784 * h + h * 10
        for seed in seeds:
            plateau = 3.0 / n_w**power * (1 + 0.01 * seed)
            rms = [max(math.exp(-rate * e), plateau) for e in range(epochs + 1)]
            for e in range(epochs + 1):
                base = dict(arm="a", init="standard", lam=lam, eta=eta, hidden=str(h), seed=seed, n=n, m=m,
                            epochs=epochs, n_w=n_w, sizes=f"784-{h}-10", epoch=e, layer="W1", n_in=784)
                metrics = {"rms": rms[e]}
                if e:
                    metrics.update(shrink=rms[e] / rms[e - 1], decay=-1.0, drift=0.05, noise=0.01,
                                   disp_decay=2.0, disp_grad=1.0)
                rows.append({**base, **metrics})
    return pd.DataFrame(rows)


def _init_claim(*parts: pd.DataFrame) -> dict:
    """Claim 4's measurement of the wide table made of parts, its runs read from the table itself."""
    w = pd.concat(parts, ignore_index=True)
    return claim_init(w, w[["arm", "init", "lam", "eta", "hidden", "seed"]].drop_duplicates())


def test_tail_off_epoch_and_plateau_are_found():
    t = tail_off(fake_runs())
    assert (t.plateau_settled).all()
    for _, r in t.iterrows():
        plateau = 3.0 / math.sqrt(r.n_w) * (1 + 0.01 * r.seed)
        assert r.plateau_rms == plateau
        x = -math.log(plateau) / 0.5  # epochs of pure decay until the plateau
        first = math.ceil(x)  # the epoch in which the plateau is reached; its rate is 0.5 * (x - first + 1)
        assert r.tail_epoch == (first if x - first + 1 < 0.5 else first + 1)
        assert abs(r.ratio_inv_sqrt_nw - 3.0 * (1 + 0.01 * r.seed)) < 1e-12


def test_slope_recovers_inverse_square_root_with_interval():
    t = tail_off(fake_runs())
    (row,) = slope_over_seeds(t, "n_w", ["layer"])
    assert abs(row["slope"] + 0.5) < 1e-9 and row["ci95"][0] <= -0.5 <= row["ci95"][1] and row["seeds"] == 3


def test_dominance_and_rate_verdicts_follow_the_numbers():
    w = fake_runs(epochs=5)
    dom = claim_dominance(w)
    assert all(r["size_reading_holds"] and r["strong_reading_holds"] for r in dom["table"])
    w.loc[w.epoch == 2, "drift"] = 5.0  # decay no longer dominates epoch 2: mean share over epochs 1-3 < 0.9
    assert not any(r["size_reading_holds"] for r in claim_dominance(w)["table"])
    rate = claim_decay_rate(fake_runs(epochs=5))
    assert all(r["rel_error"]["mean"] < 1e-12 and r["holds"] for r in rate["table"])
    np.testing.assert_allclose([r["eta_lam_over_n"] for r in rate["table"]], [0.005] * 3)


def test_tail_off_verdict_summarizes_the_slopes():
    claim = claim_tail_off(fake_runs(widths=(10, 30, 100, 300)))
    (row,) = claim["slopes_vs_n_w"]
    assert row["nearest"] == "1/sqrt(n_w)" and abs(row["slope"] + 0.5) < 1e-9
    assert "x sqrt(n_w) = 3.03 (sd 0.03)" in claim["details"]
    summary = "W1: slope vs n_w -0.50 in 1 groups, nearest 1/sqrt(n_w) in 1, 95% CI containing -1/2 in 1/1"
    assert summary in claim["details"]
    steeper = claim_tail_off(fake_runs(widths=(10, 30, 100, 300), power=1.0))["details"]
    assert "slope vs n_w -1.00 in 1 groups, nearest 1/n_w in 1, 95% CI containing -1/2 in 0/1" in steeper


def test_init_verdict_counts_the_cells_behind_it():
    std = fake_runs(widths=(10, 30))
    std.loc[std.hidden == "10", "rms"] *= 5  # plateau 0.17: stays above 1/sqrt(784) = 0.036
    scaled = std.assign(init="scaled")
    net = [dict(arm="a", init=init, lam=10.0, eta=0.5, hidden=h, seed=s, epoch=e, layer="net",
                acc_validation=acc[e == 40])
           for init, acc in (("standard", (0.5, 0.8)), ("scaled", (0.6, 0.8)))
           for h in ("10", "30") for s in (0, 1, 2) for e in (1, 40)]
    w = pd.concat([std, scaled, pd.DataFrame(net)], ignore_index=True)
    claim = _init_claim(w)
    reach = {r["hidden"]: r["epoch_reaches_inv_sqrt_n_in"] for r in claim["weights"]}
    assert reach == {"10": None, "30": 7}  # exp(-0.5 e) <= 1/28 from e = 7
    assert {r["hidden"]: r["epoch_within_10pct_of_scaled"] for r in claim["weights"]} == {"10": 0, "30": 0}
    assert claim["details"].startswith("standard init with lam > 0: RMS within 10% of the scaled init's to the end "
                                       "in 2/2 (cell, layer) pairs (from epoch 0), standard/scaled RMS at the end "
                                       "1.00; RMS at or below 1/sqrt(n_in) in 1/2 (at epoch 7)")
    assert "ahead after epoch 1 in 2/2 cells and at the end in 0/2 (final gap +0.000)" in claim["details"]


# Each threshold of decaylab.analyze, on both sides of it: a changed threshold flips one of these.


@pytest.mark.parametrize("error,holds", [(0.05, True), (0.2, False), (-0.08, True), (-0.12, False)])
def test_rate_tolerance_separates_5_from_20_percent(error, holds):
    assert decay_rate.RATE_TOLERANCE == 0.10
    claim = claim_decay_rate(pd.concat([fake_runs(epochs=5, rate_factor=1 + error),
                                        fake_network(hidden=("10",), lam=10.0, rate_factor=1 + error)]))
    assert all(r["rel_error"]["mean"] == pytest.approx(abs(error)) for r in claim["table"])
    assert {r["layer"] for r in claim["table"]} == {"W1", "net"}
    assert all(r["holds"] is holds for r in claim["table"])


def test_the_window_is_chosen_by_decay_time_so_a_slow_epoch_in_it_fails_the_claim():
    """The first epochs are those within decay time 1 (epochs 1-2 at eta*lam/m = 0.5), whatever their share: a
    gradient-dominated epoch 2 that does not shrink makes the median error 0.5 (the old share filter dropped it)."""
    w = fake_runs(epochs=5, widths=(10,))
    w.loc[w.epoch == 2, ["shrink", "drift"]] = [1.0, 50.0]
    (row,) = claim_decay_rate(w)["table"]
    assert row["window_epochs"] == 2 and row["rel_error"]["mean"] == pytest.approx(0.5) and not row["holds"]
    w.loc[w.epoch == 3, ["shrink", "drift"]] = [1.0, 50.0]  # after the window: no effect
    assert claim_decay_rate(w)["table"][0]["rel_error"]["mean"] == pytest.approx(0.5)


@pytest.mark.parametrize("drift,holds", [(0.08, True), (0.12, False)])  # decay share 1/1.09 = 0.917, 1/1.13 = 0.885
def test_decay_share_threshold(drift, holds):
    w = fake_runs(epochs=5)
    w.loc[w.epoch >= 1, ["drift", "noise"]] = [drift, 0.01]
    (row, *_) = claim_dominance(w)["table"]
    assert row["size_reading_holds"] is holds and row["decay_share"]["mean"] == pytest.approx(1 / (1.01 + drift))


@pytest.mark.parametrize("disp_grad,holds", [(1.9, True), (2.1, False)])  # disp_decay = 2
def test_strong_reading_needs_decay_displacement_above_gradient(disp_grad, holds):
    w = fake_runs(epochs=5)
    w.loc[w.epoch >= 1, "disp_grad"] = disp_grad
    assert all(r["strong_reading_holds"] is holds for r in claim_dominance(w)["table"])


@pytest.mark.parametrize("lam,epoch,holds", [(10.0, 2, False), (10.0, 3, True), (1.0, 20, False), (1.0, 21, True),
                                             (100.0, 1, False), (100.0, 2, True)])
def test_only_the_first_epochs_in_decay_time_count_for_dominance(lam, epoch, holds):
    """The window ends at decay time epochs x eta*lam/m = 1: 2 epochs at eta*lam/m = 0.5, 20 at 0.05; at 5 it is
    shorter than one epoch, and runs without points inside epoch 1 show epoch 1, not judged (unresolved)."""
    w = fake_runs(epochs=25, lam=lam)
    w.loc[w.epoch == epoch, "drift"] = 50.0  # one epoch dominated by the gradient
    table = claim_dominance(w)["table"]
    assert all(r["size_reading_holds"] is holds for r in table)
    assert all(r["resolved"] is (lam < 100) for r in table)
    assert {r["window_epochs"] for r in table} == {max(1, int(1 / (0.5 * lam / 10) + 1e-9)) if lam < 100 else None}


@pytest.mark.parametrize("lam,fraction", [(100.0, 1 / 8), (30.0, 1 / 2), (500.0, 1 / 32), (2000.0, None)])
def test_a_first_phase_inside_epoch_one_is_judged_at_its_last_point(lam, fraction):
    """eta*lam/m = 5 per epoch: decay time 1 falls at 0.2 of epoch 1, so the point at 1/8 (tau 0.625) ends the
    phase; the gradient dominating from the next point on changes nothing, dominating up to it fails the claim."""
    from decaylab.glossary import SUB_EPOCH, sub_epoch_name

    rate = 0.5 * lam / 10
    w = fake_runs(epochs=3, lam=lam)
    for f in SUB_EPOCH:  # cumulative terms from the start: decay f x (-1), a drift that dominates after `fraction`
        late = fraction is None or f > fraction
        w.loc[w.epoch == 1, [sub_epoch_name(p, f) for p in ("decay", "drift", "noise")]] = [-f, 50.0 * late, 0.01 * f]
    table = claim_dominance(w)["table"]
    if fraction is None:  # faster than the first point
        assert not any(r["resolved"] for r in table)
        return
    assert fraction * rate <= 1 < 2 * fraction * rate
    assert all(r["resolved"] and r["window_epochs"] == fraction and r["size_reading_holds"] for r in table)
    assert all(r["strong_reading_holds"] is None for r in table)  # displacements are measured at epoch ends only
    w.loc[w.epoch == 1, sub_epoch_name("drift", fraction)] = 50.0
    assert not any(r["size_reading_holds"] for r in claim_dominance(w)["table"])


@pytest.mark.parametrize("creep,settled", [(1.05, True), (1.15, False)])
def test_plateau_settles_within_ten_percent(creep, settled):
    w = fake_runs(epochs=40)
    late = w.epoch >= 40 - math.ceil(tail_off_claim.PLATEAU_FRACTION * 40) + 1
    w.loc[late, "rms"] *= np.interp(w.loc[late, "epoch"], [33, 40], [1.0, creep])
    assert tail_off(w).plateau_settled.eq(settled).all()


def test_slope_interval_is_students_t_over_seeds():
    """Three seeds with slopes -0.4, -0.5, -0.6: mean -0.5, half-width t(0.975, 2) x 0.1 / sqrt(3)."""
    n_w = np.array([100.0, 1000.0, 10000.0])
    t = pd.DataFrame([{"layer": "W1", "seed": seed, "n_w": x, "plateau_rms": 2 * x**slope}
                      for seed, slope in enumerate((-0.4, -0.5, -0.6)) for x in n_w])
    (row,) = slope_over_seeds(t, "n_w", ["layer"])
    half = 4.302652729911275 * 0.1 / math.sqrt(3)
    assert row["slope"] == pytest.approx(-0.5, abs=1e-12) and row["seeds"] == 3
    assert row["ci95"] == pytest.approx([-0.5 - half, -0.5 + half], abs=1e-9)
    (single,) = slope_over_seeds(t[t.seed == 0], "n_w", ["layer"])
    assert single["ci95"] is None and single["slope"] == pytest.approx(-0.4)
    assert slope_over_seeds(t[t.n_w == 100.0], "n_w", ["layer"]) == []  # one width: no slope to fit


# The numbers behind each verdict, on constructed runs with known answers (mutation testing found these unpinned).


def test_spread_is_mean_and_sample_sd():
    assert analyze._spread(pd.Series([1.0, 2.0, 6.0, None])) == {"mean": 3.0, "sd": math.sqrt(7.0), "seeds": 3}
    assert analyze._spread(pd.Series([1.0, 3.0])) == {"mean": 2.0, "sd": pytest.approx(math.sqrt(2.0)), "seeds": 2}
    assert analyze._spread(pd.Series([4.0])) == {"mean": 4.0, "sd": 0.0, "seeds": 1}
    assert analyze._spread(pd.Series([], dtype=float)) == {"mean": None, "sd": None, "seeds": 0}


def _with_untrained_and_unregularized_rows(w: pd.DataFrame) -> pd.DataFrame:
    """Add what the claims must ignore: lam = 0 runs and epoch-0 rows with values that would change any answer."""
    noise = w.assign(lam=0.0, drift=50.0, shrink=0.5, disp_grad=100.0)
    w = w.copy()
    w.loc[w.epoch == 0, ["decay", "drift", "noise", "shrink", "disp_decay", "disp_grad"]] = [-1.0, 50.0, 0.0, 0.5, 1.0,
                                                                                          100.0]
    return pd.concat([w, noise], ignore_index=True)


def test_decay_rate_table_from_known_shrinks():
    w = _with_untrained_and_unregularized_rows(fake_runs(epochs=5, n=1000, rate_factor=1.05))
    rows = claim_decay_rate(w)["table"]
    exact = math.ceil(1000 / 10) * math.log1p(-0.5 * 10 / 1000)
    assert len(rows) == 3 and all(r["layer"] == "W1" and r["init"] == "standard" for r in rows)  # three widths
    row = rows[0]
    assert (row["eta"], row["lam"], row["n"], row["m"], row["window_epochs"]) == (0.5, 10.0, 1000, 10, 2)
    assert row["rel_error"]["mean"] == pytest.approx(0.05, abs=1e-12) and row["rel_error"]["seeds"] == 3
    assert row["eta_lam_over_n"] == 0.005 and row["eta_lam_over_m"] == 0.5 and row["resolved"]
    assert row["exp_vs_exact_rel_gap"] == pytest.approx(abs(exact / -0.5 - 1), rel=1e-12)


def test_the_exact_factor_parts_from_the_exponential_where_eta_lam_over_n_is_large():
    """Weights shrinking by the exact factor (1 - eta*lam/n)^(n/m): at eta*lam/n = 0.02 the log differs from
    -eta*lam/m by 1 %, at 0.2 by 11.6 % (full batch, m = n): the claim holds at the first only."""
    small = fake_network(hidden=("10", "30"), lam=10.0, n=250, m=250, exact=True, epochs=60)
    large = fake_network(hidden=("10", "30"), lam=10.0, n=25, m=25, exact=True, epochs=60)
    claim = claim_decay_rate(pd.concat([small, large]))
    errors = {r["eta_lam_over_n"]: r["rel_error"]["mean"] for r in claim["table"]}
    assert errors[0.02] == pytest.approx(-math.log(0.98) / 0.02 - 1, rel=1e-6)
    assert errors[0.2] == pytest.approx(-math.log(0.8) / 0.2 - 1, rel=1e-6)
    assert [r["holds"] for r in sorted(claim["table"], key=lambda r: r["eta_lam_over_n"])] == [True, True, False, False]


def test_dead_pixel_control_is_the_largest_log_error_against_the_exact_factor():
    w = fake_runs(epochs=5, n=1000)
    exact = math.ceil(1000 / 10) * math.log1p(-0.5 * 10 / 1000)
    w["rms_dead"] = 1.0
    w["shrink_dead"] = np.exp(exact + 1e-3 * w.seed)  # seed 2 is off by 2e-3
    w.loc[w.epoch == 0, "shrink_dead"] = np.nan
    w2 = w.assign(layer="W2", shrink_dead=5.0)  # only W1 has dead pixels
    tiny = w.assign(rms_dead=1e-15, shrink_dead=5.0)  # weights at 1e-15 or below (underflowing) are left out
    control = claim_decay_rate(pd.concat([w, w2, tiny], ignore_index=True))["dead_pixel_max_log_error"]
    assert control == pytest.approx(2e-3, rel=1e-9)
    assert claim_decay_rate(fake_runs(epochs=5))["dead_pixel_max_log_error"] is None


@pytest.mark.parametrize("decay,drift,holds", [(-0.9, 0.1, True), (-0.89, 0.11, False)])
def test_a_share_of_exactly_the_threshold_holds(decay, drift, holds):
    w = fake_runs(epochs=5)
    w.loc[w.epoch >= 1, ["decay", "drift", "noise"]] = [decay, drift, 0.0]
    assert all(r["size_reading_holds"] is holds for r in claim_dominance(w)["table"])


def test_dominance_counts_cells_per_layer_and_the_network_and_ignores_lam_0_and_epoch_0():
    """The whole network sums the layers' terms of the change of |W|^2 and adds their displacements in quadrature."""
    good = fake_runs(epochs=5)
    weak = fake_runs(epochs=5, lam=1.0).assign(drift=5.0, disp_grad=3.0)  # gradient-dominated at lam = 1
    w2 = fake_runs(epochs=5).assign(layer="W2", disp_grad=2.0)  # ratio exactly 1: not strong
    claim = claim_dominance(_with_untrained_and_unregularized_rows(pd.concat([good, weak, w2], ignore_index=True)))
    held = {(r["layer"], r["lam"]): (r["size_reading_holds"], r["strong_reading_holds"]) for r in claim["table"]}
    assert held == {("W1", 1.0): (False, False), ("W1", 10.0): (True, True), ("W2", 10.0): (True, False),
                    ("net", 1.0): (False, False), ("net", 10.0): (True, True)}
    assert len(claim["table"]) == 3 * 5  # three widths
    row = next(r for r in claim["table"] if r["layer"] == "W1" and r["lam"] == 10.0 and r["hidden"] == "10")
    assert row["decay_share"]["mean"] == pytest.approx(1 / 1.06) and row["disp_ratio"]["mean"] == 2.0
    net = next(r for r in claim["table"] if r["layer"] == "net" and r["lam"] == 10.0 and r["hidden"] == "10")
    assert net["decay_share"]["mean"] == pytest.approx(2 / 2.12)
    assert net["disp_ratio"]["mean"] == pytest.approx(math.sqrt(8) / math.sqrt(5))  # sqrt(2²+2²) / sqrt(1²+2²)


def test_tail_off_columns_for_a_known_run():
    w = fake_runs(widths=(30,), seeds=(0,), epochs=10)
    w2 = w.assign(layer="W2", rms=w.rms / 2, n_in=w.hidden.astype(int))
    t = tail_off(_with_untrained_and_unregularized_rows(pd.concat([w, w2], ignore_index=True)))
    assert len(t) == 2 and set(t.lam) == {10.0}
    n_w, plateau = 784 * 30 + 30 * 10, 3.0 / math.sqrt(784 * 30 + 30 * 10)
    r1, r2 = (t[t.layer == layer].iloc[0] for layer in ("W1", "W2"))
    assert (r1.n_in, r2.n_in) == (784, 30)
    # rms follows exp(-0.5 e) to the plateau 0.0194, reached 88% into epoch 8 (rate 0.44 there, above half of
    # 0.5): the first slow epoch is 9
    assert r1.tail_epoch == 9 and r1.rms_at_tail == pytest.approx(plateau)
    assert r1.plateau_rms == pytest.approx(plateau) and r2.plateau_rms == pytest.approx(plateau / 2)
    assert r1.ratio_inv_nw == pytest.approx(plateau * n_w) and r1.ratio_inv_sqrt_nin == pytest.approx(plateau * 28)
    assert r1.ratio_inv_sqrt_nw == pytest.approx(3.0)


def test_a_plateau_is_the_median_of_the_last_three_epochs_at_least():
    w = fake_runs(widths=(30,), seeds=(0,), epochs=10)  # 20% of 10 epochs is 2: three epochs count
    w.loc[w.epoch == 8, "rms"] = 0.5
    w.loc[w.epoch == 9, "rms"] = 0.02
    assert tail_off(w).iloc[0].plateau_rms == pytest.approx(0.02)


def test_tail_off_hypotheses_per_layer():
    """W1 plateaus that do not depend on width fit 1/sqrt(n_in) (slope 0 for W1); W2 at n_w^-1/2 fits both
    1/sqrt(n_w) and 1/sqrt(n_in) (slope -1/2 after the first layer)."""
    flat = fake_runs(widths=(10, 30, 100, 300), power=0.0, epochs=60).assign(
        rms=lambda d: np.maximum(np.exp(-0.5 * d.epoch), 0.03 * (1 + 0.01 * d.seed)))
    half = fake_runs(widths=(10, 30, 100, 300), epochs=60).assign(layer="W2")
    half["n_in"] = half.hidden.astype(int)
    claim = claim_tail_off(pd.concat([flat, half], ignore_index=True))
    rows = {r["layer"]: r for r in claim["slopes_vs_n_w"]}
    assert rows["W1"]["nearest"] == "1/sqrt(n_in)" and rows["W1"]["slope"] == pytest.approx(0, abs=1e-9)
    assert rows["W1"]["consistent_with"] == ["1/sqrt(n_in)"]
    assert rows["W2"]["consistent_with"] == ["1/sqrt(n_w)", "1/sqrt(n_in)"]
    assert {r["lam_over_n"] for r in claim["table"]} == {10.0 / 1000}


def test_init_comparison_numbers():
    std = fake_runs(widths=(30,), epochs=10)
    scaled = std.assign(init="scaled", rms=std.rms / 4)
    lam0 = pd.concat([std, scaled]).assign(lam=0.0)
    net = [dict(arm="a", init=init, lam=lam, eta=0.5, hidden="30", seed=s, epoch=e, layer="net",
                acc_validation=acc + 0.01 * e)
           for init, acc in (("standard", 0.5), ("scaled", 0.6)) for lam in (0.0, 10.0) for s in (0, 1, 2)
           for e in (1, 10)]
    w = pd.concat([std, scaled, lam0, pd.DataFrame(net)], ignore_index=True)
    claim = _init_claim(w)
    row = next(r for r in claim["weights"] if r["lam"] == 10.0)
    plateau = 3.0 / math.sqrt(784 * 30 + 300) * 1.01  # the mean over seeds of 1, 1.01, 1.02 times it
    assert (row["layer"], row["init"], row["n_in"], row["target_rms"]) == ("W1", "standard", 784, pytest.approx(1 / 28))
    assert row["rms_start"] == pytest.approx(1.0) and row["rms_end"] == pytest.approx(plateau)
    assert row["scaled_rms_end"] == pytest.approx(plateau / 4) and row["end_ratio_to_scaled"] == pytest.approx(4)
    assert row["epoch_reaches_inv_sqrt_n_in"] == 7  # exp(-0.5 e) <= 1/28 from e = 7
    assert row["epoch_within_10pct_of_scaled"] is None  # a factor 4 apart to the end
    acc = {a["lam"]: a for a in claim["accuracy"]}
    assert acc[10.0] == {"arm": "a", "lam": 10.0, "eta": 0.5, "hidden": "30", "init": "standard", "acc_epoch1": 0.51,
                         "acc_epoch1_scaled": pytest.approx(0.61), "acc_final": pytest.approx(0.6),
                         "acc_final_scaled": pytest.approx(0.7)}
    assert "RMS at or below 1/sqrt(n_in) in 1/1 (at epoch 7)" in claim["details"]  # lam = 0 cells not counted
    assert "standard/scaled RMS at the end 4.00 (without L2: 4.00)" in claim["details"]
    assert "to the end in 0/1 (cell, layer) pairs," in claim["details"]


def test_every_init_is_set_against_the_scaled_init():
    """With four schemes, each of the other three gets its own rows and sentence; settling is 'to the end'."""
    base = fake_runs(widths=(30,), epochs=10)
    scaled = base.assign(init="scaled", rms=0.05)
    he = base.assign(init="he", rms=0.05 * np.where(base.epoch < 4, 3.0, 1.05))  # within 10 % from epoch 4
    glorot = base.assign(init="glorot", rms=0.05 * np.where(base.epoch == 8, 2.0, 1.0))  # leaves at 8, back at 9
    w = pd.concat([base, scaled, he, glorot], ignore_index=True)
    claim = _init_claim(w)
    settle = {r["init"]: r["epoch_within_10pct_of_scaled"] for r in claim["weights"]}
    assert settle == {"glorot": 9, "he": 4, "standard": None}
    assert [p.split(" init")[0] for p in claim["details"].split("; ") if " init with lam" in p] == [
        "glorot", "he", "standard"]


def test_runs_without_decay_are_not_testable_for_claims_1_to_3():
    w = fake_runs(epochs=5).assign(lam=0.0)
    assert claim_dominance(w) == {"details": "not testable: no run with lam > 0", "table": []}
    assert claim_decay_rate(w) == {"details": "not testable: no run with lam > 0", "table": []}
    tail = claim_tail_off(w)
    assert tail["table"] == [] and tail["network_plateaus"] == [] and tail["network_law"] == []
    assert tail["prefactor_fit"] is None
    one_init = fake_runs(epochs=5)
    assert _init_claim(one_init) == {
        "details": "not testable: no cell run with the scaled init and another", "table": []}
    only_scaled = one_init.assign(init="scaled")
    assert _init_claim(only_scaled) == {
        "details": "not testable: no cell run with the scaled init and another", "table": []}


def test_claim4_reads_each_init_with_l2_its_target_size_at_equality_and_ties_as_no_lead():
    """An init run only without L2 (glorot) adds no sentence and does not stop the next (standard); a weight RMS
    exactly 1/sqrt(n_in) has reached it; equal accuracies are no lead; with no init under L2 nothing is judged."""
    one = fake_runs(widths=(30,), seeds=(0,), epochs=6)
    standard = one.assign(rms=np.where(one.epoch >= 3, 1 / math.sqrt(784), 1.0))
    scaled = one.assign(init="scaled", rms=0.05)
    net = pd.DataFrame([dict(arm="a", init=init, lam=10.0, eta=0.5, hidden="30", seed=0, epoch=e, layer="net",
                             acc_validation=0.8 + 0.01 * e) for init in ("standard", "scaled") for e in (1, 6)])
    glorot = scaled.assign(init="glorot", lam=0.0)
    claim = _init_claim(standard, scaled, scaled.assign(lam=0.0), glorot, net)
    (row,) = [r for r in claim["weights"] if r["init"] == "standard"]
    assert row["epoch_reaches_inv_sqrt_n_in"] == 3
    assert claim["details"].startswith("standard init with lam > 0: ") and "glorot" not in claim["details"]
    assert "the scaled init is ahead after epoch 1 in 0/1 cells and at the end in 0/1" in claim["details"]
    without_l2 = _init_claim(scaled.assign(lam=0.0), glorot)
    assert without_l2["details"] == "not testable: no cell with lam > 0 and two inits"


@pytest.mark.parametrize("mean,ci95,reading", [
    (0.953, None, "agrees"),            # within the split's sampling error alone (1.96 x 0.218 pp)
    (0.955, None, "above"),             # beyond it
    (0.955, [0.950, 0.960], "agrees"),  # the seeds' interval widens the comparison
    (0.940, [0.939, 0.941], "below"),
])
def test_against_book_adds_the_splits_sampling_error(mean, ci95, reading):
    got = book.against_book({"mean": mean, "ci95": ci95, "seeds": 3}, 0.95, 10_000)
    assert got["sampling_error"] == pytest.approx(math.sqrt(0.95 * 0.05 / 10_000))
    seeds = 0 if ci95 is None else (ci95[1] - ci95[0]) / 2
    assert got["half_width"] == pytest.approx(math.hypot(seeds, 1.959964 * got["sampling_error"]))
    assert got["difference"] == pytest.approx(mean - 0.95) and got["reading"] == reading


def _book_runs(dataset="mnist", train_size=1000, test_size=None):
    return pd.DataFrame([dict(study="book", arm="small", dataset=dataset, init="standard", lam=0.1, eta=0.5,
                              hidden="30", m=10, epochs=400, n=train_size or 50_000, seed=s,
                              train_size=train_size, validation_size=None, test_size=test_size,
                              acc_test=0.86 + 0.01 * s, peak_acc_test=0.90, diverged=False, collapsed=False,
                              book_accuracy=0.871, book_split="test", book_note="note") for s in range(5)])


def test_book_rows_compare_the_last_epoch_on_the_splits_own_images():
    no_claims = {"1_early_decay_dominance": {}, "3_tail_off": {}}
    (row,) = book.book_table(_book_runs(), no_claims)
    assert row["final_accuracy_interval"]["mean"] == pytest.approx(0.88)  # the last epoch, not the peak (0.90)
    assert row["peak_accuracy_interval"]["mean"] == pytest.approx(0.90)
    assert row["versus_book"]["images"] == 10_000  # n = 1,000 arms evaluate on MNIST's whole test set
    assert row["versus_book"]["difference"] == pytest.approx(0.88 - 0.871)
    (small,) = book.book_table(_book_runs(dataset="mnist-5k", test_size=None), no_claims)
    assert small["versus_book"]["images"] == 1_000
    (cut,) = book.book_table(_book_runs(test_size=2_000), no_claims)
    assert cut["versus_book"]["images"] == 2_000
    (lost,) = book.book_table(_book_runs().assign(collapsed=True), no_claims)  # no run left to compare
    assert lost["final_accuracy_interval"]["seeds"] == 0 and lost["versus_book"] is None
    assert book._book_intro({"datasets": ["mnist", "fashion-mnist"]}).endswith(
        " Ours is on mnist, fashion-mnist; the book's is real MNIST, so the columns are not comparable.")


@pytest.mark.parametrize("split,images", [(None, 10_000), ("train", 1_000), ("validation", 10_000)])
def test_a_book_figure_is_compared_on_its_own_split_the_test_set_when_it_names_none(split, images):
    no_claims = {"1_early_decay_dominance": {}, "3_tail_off": {}}
    runs = _book_runs().assign(book_split=split, acc_train=0.95, peak_acc_train=0.97, acc_validation=0.91,
                               peak_acc_validation=0.92)
    (row,) = book.book_table(runs, no_claims)
    used = split or "test"
    assert row["split"] == used and row["versus_book"]["images"] == images
    assert row["final_accuracy_interval"]["mean"] == pytest.approx(runs[f"acc_{used}"].mean())
    assert row["peak_accuracy_interval"]["mean"] == pytest.approx(runs[f"peak_acc_{used}"].mean())

def test_init_curves_give_every_epoch_of_each_paired_arm():
    """Both inits of the init arms, epoch by epoch, in a study with the book's figures; an arm of one init and
    the initial network (epoch 0) are left out; a study without the book's figures has none."""
    rows = [dict(arm=arm, hidden="30", lam=5.0, eta=0.1, init=init, seed=s, epoch=e, layer="net",
                 acc_validation=0.9 + 0.01 * e + (0.02 if init == "scaled" else 0) + 0.001 * s)
            for arm, inits in (("init-h30", ("standard", "scaled")), ("full-l2", ("standard",)))
            for init in inits for s in range(3) for e in range(4)]
    w = pd.DataFrame(rows)
    got = book.init_curves(w, pd.DataFrame({"book_note": ["x"]}))
    assert {(r["arm"], r["init"]) for r in got} == {("init-h30", "standard"), ("init-h30", "scaled")}
    assert sorted({r["epoch"] for r in got}) == [1, 2, 3]
    third = next(r for r in got if r["init"] == "scaled" and r["epoch"] == 3)["acc_validation"]
    assert third["mean"] == pytest.approx(0.951) and third["seeds"] == 3
    assert book.init_curves(w, pd.DataFrame({"book_note": [None]})) == []


def fake_network(hidden=("10", "30", "100", "100-100"), prefactor=3.0, power=0.5, seeds=(0, 1, 2), lam=5.0,
                 init="standard", epochs=40, eta=0.5, m=10, n=1000, rate_factor=1.0, exact=False):
    """The whole network's weight RMS (layer `net`) decaying at rate_factor x eta*lam/m per epoch (exact: at the
    exact factor (1 - eta*lam/n)^ceil(n/m)) from 1 to the plateau prefactor / n_w^power (seed s: x (1 + 0.01 s)),
    networks of one and two hidden layers."""
    rate = -math.ceil(n / m) * math.log1p(-eta * lam / n) if exact else eta * lam / m * rate_factor
    rows = []
    for h in hidden:
        sizes = [784, *map(int, h.split("-")), 10]
        n_w = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
        for seed in seeds:
            plateau = prefactor / n_w**power * (1 + 0.01 * seed)
            for e in range(epochs + 1):
                rows.append(dict(arm="a", init=init, lam=lam, eta=eta, hidden=h, seed=seed, n=n, m=m, epochs=epochs,
                                 n_w=n_w, sizes="-".join(map(str, sizes)), epoch=e, layer="net", n_in=np.nan,
                                 rms=max(math.exp(-rate * e), plateau)))
    return pd.DataFrame(rows)


def test_network_law_separates_the_form_from_the_magnitude():
    """A plateau of 3/sqrt(n_w) over four networks (two depths): the form holds (slope -1/2 exactly), the
    magnitude does not (prefactor 3.0 > sqrt(10)); at 1/sqrt(n_w) both hold; at 1/n_w the form fails."""
    (law,) = tail_off_claim.network_law(tail_off_claim.network_plateaus(fake_network(prefactor=3.5)))
    assert law["slope"]["mean"] == pytest.approx(-0.5) and law["form_holds"]
    assert law["prefactor"]["mean"] == pytest.approx(3.5 * 1.01, rel=1e-3) and not law["magnitude_holds"]
    assert law["n_w"] == [7_940, 23_820, 79_400, 89_400]
    (near,) = tail_off_claim.network_law(tail_off_claim.network_plateaus(fake_network(prefactor=1.0)))
    assert near["form_holds"] and near["magnitude_holds"]
    (steep,) = tail_off_claim.network_law(tail_off_claim.network_plateaus(fake_network(prefactor=30.0, power=1.0)))
    assert steep["slope"]["mean"] == pytest.approx(-1.0) and not steep["form_holds"]


def test_an_unsettled_plateau_is_left_out_of_the_law():
    """Too few epochs to reach the plateau: the RMS still falls at the end, so the run is not settled."""
    plateaus = tail_off_claim.network_plateaus(fake_network(epochs=8))
    assert not plateaus.plateau_settled.any() and tail_off_claim.network_law(plateaus) == []


def test_the_tail_off_figure_dashes_each_lam_over_n_fit_and_logs_time_past_60_epochs(tmp_path, monkeypatch):
    """Fits at two lam/n are told apart by their dash (solid, dashed, in lam/n order); training time goes on a
    log axis once it runs past 60 epochs, a linear one up to 60."""
    drawn = []
    monkeypatch.setattr(tail_off_claim, "_save", lambda fig, out_dir, name: drawn.append(fig))
    for epochs, xscale in ((61, "log"), (60, "linear")):
        w = pd.concat([fake_network(prefactor=p, lam=lam, epochs=epochs) for p, lam in ((1.0, 10.0), (10.0, 100.0))])
        tail_off_claim.draw(w, tmp_path)
        during, plateau = drawn.pop().axes[:2]
        assert during.get_xscale() == xscale
        fits = {line.get_label().split(":")[0]: line.get_linestyle() for line in plateau.lines
                if line.get_label().startswith("fit")}
        assert fits == {"fit, standard, λ/n=0.01": "-", "fit, standard, λ/n=0.1": "--"}
    plt.close("all")

def test_prefactor_fit_recovers_the_power_of_lam_over_n():
    """Prefactors 1, 10 at lam/n 0.01, 0.1: a power of 1 (the heuristic leaves lam/n out)."""
    runs = pd.concat([fake_network(prefactor=p, lam=lam, epochs=60) for p, lam in ((1.0, 10.0), (10.0, 100.0))])
    fit = tail_off_claim.prefactor_fit(tail_off_claim.network_plateaus(runs))
    assert fit["power_of_lam_over_n"] == pytest.approx(1.0, abs=0.01) and "power_of_eta" not in fit


def test_settings_that_did_not_learn_are_those_below_half_the_best():
    rows = [dict(arm="a", init=init, lam=lam, eta=0.5, hidden="30", seed=s, epoch=e, layer="net",
                 acc_validation=acc if e == 2 else 0.1)
            for init in ("standard", "scaled") for lam, acc in ((1.0, 0.9), (10.0, 0.46), (100.0, 0.44))
            for s in range(3) for e in range(3)]
    w = pd.DataFrame(rows)
    out = analyze.did_not_learn(w)
    assert sorted(out.lam) == [100.0, 100.0]  # 0.44 < 0.45 = half of 0.9; 0.46 learned
    assert set(analyze.learned(w).lam) == {1.0, 10.0}


def test_claim_2_reads_collapsed_runs_and_the_others_do_not():
    """A collapsed run's weights still decay: claim 2 (about the weights) keeps it, every other claim leaves it out."""
    from decaylab.claims import CLAIMS

    base = dict(arm="a", init="standard", lam=1.0, eta=0.5, hidden="30", n=100, m=100, epochs=2, n_w=23_820,
                sizes="784-30-10", epoch=1, layer="net", metric="rms", value=0.5, diverged=False, n_in=np.nan)
    summary = pd.DataFrame([dict(base, seed=s, collapsed=lam > 1, lam=lam) for lam in (1.0, 2.0) for s in (0, 1)])
    assert analyze.wide(summary)[["lam", "seed"]].values.tolist() == [[1.0, 0], [1.0, 1]]
    assert len(analyze.wide(summary, collapsed=True)) == 4
    assert [c.key for c in CLAIMS if c.collapsed] == ["2_decay_rate"]


def test_a_setting_whose_seeds_disagree_about_learning_is_left_out_whole():
    """Unstable: some seeds collapsed or diverged, some not. Out of every claim's table, collapsed runs read or
    not; settings where every seed failed (collapsed, diverged or a mix) or none did are not unstable."""
    base = dict(arm="a", init="standard", eta=0.5, hidden="30", n=100, m=100, epochs=2, n_w=23_820,
                sizes="784-30-10", epoch=1, layer="net", metric="rms", value=0.5, n_in=np.nan)
    fates = {1.0: [(False, False), (False, True)], 2.0: [(False, False), (True, False)],  # unstable
             3.0: [(False, True), (True, False)], 4.0: [(False, True), (False, True)],  # all failed
             5.0: [(False, False), (False, False)]}  # (diverged, collapsed) per seed
    summary = pd.DataFrame([dict(base, lam=lam, seed=s, diverged=d, collapsed=c)
                            for lam, seeds in fates.items() for s, (d, c) in enumerate(seeds)])
    assert analyze.unstable_cells(summary).lam.tolist() == [1.0, 2.0]
    assert sorted(set(analyze.wide(summary, collapsed=True).lam)) == [3.0, 4.0, 5.0]
    assert sorted(set(analyze.wide(summary).lam)) == [5.0]


def test_claim3_without_a_decaying_run_says_so():
    assert tail_off_claim.judge({})["answer"] == "Not testable here: no run with lam > 0."


def test_claim3_over_two_lam_over_n_ranges_its_settings_and_names_the_prefactors_power():
    w = pd.concat([fake_network(prefactor=p, lam=lam, epochs=60) for p, lam in ((1.0, 10.0), (10.0, 100.0))],
                  ignore_index=True)
    claim = {"network_plateaus": tail_off_claim.network_plateaus(w).to_dict("records")}
    claim["network_law"] = tail_off_claim.network_law(pd.DataFrame(claim["network_plateaus"]))
    claim["prefactor_fit"] = tail_off_claim.prefactor_fit(pd.DataFrame(claim["network_plateaus"]))
    got = tail_off_claim.judge(claim, w)
    assert [h["cells"]["count"] for h in got["headline"]] == [2, 2]
    assert got["answer"].endswith("; the prefactor scales as (λ/n)^1.00.")
    skipped = tail_off_claim.judge({**claim, "did_not_learn": [{}, {}]}, w)["answer"]
    assert skipped == got["answer"] + " Over-regularized, left out: 2 cells (init and setting) that did not learn."


def test_claim3_with_one_network_size_or_no_settled_plateau_says_which():
    one = fake_network(hidden=("30",), seeds=(0,), epochs=60)
    plateaus = tail_off_claim.network_plateaus(one)
    assert tail_off_claim.judge({"network_plateaus": plateaus.to_dict("records")})["answer"] == (
        "Not testable here: one network size (n_w = 23,820) per setting; the tail-off law needs several.")
    short = tail_off_claim.network_plateaus(fake_network(epochs=8)).to_dict("records")
    assert tail_off_claim.judge({"network_plateaus": short, "network_law": []})["answer"] == (
        "Not testable here: no setting of the standard init (the claim's premise) with settled plateaus at two "
        "network sizes or more (12 of 12 runs had not settled).")
    undecayed = claim_tail_off(fake_runs(epochs=5).assign(lam=0.0))
    assert undecayed["details"] == "per layer: not testable, no run with lam > 0"


def test_the_network_law_reads_its_interval_or_one_seeds_slope_and_the_magnitude_within_its_factor():
    """Seeds whose slopes straddle -1/2 hold the form; one seed (no interval) holds where its slope is -1/2; a
    prefactor of 0.5 is within the factor sqrt(10) of 1."""
    straddle = pd.concat([fake_network(power=p, seeds=(s,), epochs=60) for s, p in ((0, 0.45), (1, 0.55))])
    (law,) = tail_off_claim.network_law(tail_off_claim.network_plateaus(straddle))
    assert law["slope"]["ci95"][0] < -0.5 < law["slope"]["ci95"][1] and law["form_holds"]
    (one,) = tail_off_claim.network_law(tail_off_claim.network_plateaus(
        fake_network(prefactor=0.5, seeds=(0,), epochs=60)))
    assert one["slope"]["ci95"] is None and one["form_holds"] and one["magnitude_holds"]
    (steep,) = tail_off_claim.network_law(tail_off_claim.network_plateaus(
        fake_network(prefactor=30.0, power=1.0, seeds=(0,), epochs=60)))
    assert not steep["form_holds"]


@pytest.mark.parametrize("epochs", [1, 2, 3])
def test_a_run_shorter_than_the_plateau_window_has_a_plateau_but_not_a_settled_one(epochs):
    """The plateau is the median over the last PLATEAU_EPOCHS (3) trained epochs at least: a run of 1 or 2 gets the
    median of what it has and is never settled, per layer and for the whole network, and claim 3 says so."""
    flat = [w.assign(rms=0.5) for w in (fake_runs(widths=(10,), seeds=(0,), epochs=epochs),
                                         fake_network(hidden=("10", "30"), seeds=(0,), epochs=epochs))]
    for t in (tail_off(flat[0]), tail_off_claim.network_plateaus(flat[1])):
        assert len(t) and t.plateau_rms.eq(0.5).all() and t.plateau_settled.eq(epochs >= 3).all()
    claim = claim_tail_off(pd.concat(flat, ignore_index=True))
    assert ("had not settled" in tail_off_claim.judge(claim)["answer"]) is (epochs < 3)


def test_at_eta_lam_over_n_of_1_or_more_there_is_no_exact_factor_and_the_gap_is_infinite():
    """At ηλ/n ≥ 1 one step zeroes or flips every weight: (1 - ηλ/n)^ceil(n/m) has no log, and the exponential's gap
    to it is infinite, not an error."""
    for eta in (1.0, 1.5):
        (row,) = claim_decay_rate(fake_network(hidden=("10",), seeds=(0, 1), lam=10.0, n=10, m=10, eta=eta))["table"]
        assert row["eta_lam_over_n"] == eta and row["exp_vs_exact_rel_gap"] == math.inf


def test_a_rate_error_of_exactly_the_tolerance_holds(monkeypatch):
    monkeypatch.setattr(decay_rate, "RATE_TOLERANCE", 1.0)
    w = fake_runs(widths=(10,), epochs=5)
    w.loc[w.epoch >= 1, "shrink"] = 1.0  # no shrink at all: the error against -ηλ/m is exactly 1
    (row,) = claim_decay_rate(w)["table"]
    assert row["rel_error"]["mean"] == 1.0 and row["holds"]


def test_a_plateau_that_moved_by_exactly_the_settling_threshold_has_not_settled(monkeypatch):
    """Settled means moved by less than SETTLED_LOG_CHANGE: a last epoch at exactly twice the window's first, with
    the threshold log 2, is not settled, per layer and for the whole network."""
    monkeypatch.setattr(tail_off_claim, "SETTLED_LOG_CHANGE", math.log(2))
    layer, net = fake_runs(widths=(10,), seeds=(0,)), fake_network(hidden=("10",), seeds=(0,))
    for w in (layer, net):
        w.loc[w.epoch == 40, "rms"] *= 2  # the plateau is reached by epoch 33, where the window starts
    assert not tail_off(layer).plateau_settled.any()
    assert not tail_off_claim.network_plateaus(net).plateau_settled.any()


def test_an_epoch_shrinking_at_exactly_half_the_predicted_rate_has_not_tailed_off():
    """The tail-off epoch is the first whose log-shrink is below half of eta*lam/m (here 2 ln 2): shrinking by 1/2
    (rate ln 2) is not below it, by 3/4 is."""
    w = fake_runs(widths=(10,), seeds=(0,), epochs=5, eta=1.0, lam=2 * math.log(2), m=1)
    w.loc[w.epoch >= 1, "shrink"] = [0.25, 0.5, 0.75, 0.75, 0.75]
    assert tail_off(w).tail_epoch.tolist() == [3]


def test_a_setting_at_exactly_half_the_best_learned():
    rows = [dict(arm="a", init="standard", lam=lam, eta=0.5, hidden="30", seed=s, epoch=e, layer="net",
                 acc_validation=acc if e == 2 else 0.1)
            for lam, acc in ((1.0, 0.75), (10.0, 0.375)) for s in range(3) for e in range(3)]
    assert analyze.LEARNED_FRACTION == 0.5 and analyze.did_not_learn(pd.DataFrame(rows)).empty


def test_the_network_displacement_is_not_measured_where_a_layers_is_not():
    """The whole network's displacements are its layers' in quadrature: a layer without one (NaN over the first
    phase) leaves the network's strong reading unjudged rather than judged on the other layers."""
    w1 = fake_runs(widths=(10,), epochs=5)
    w2 = w1.assign(layer="W2")
    w2.loc[w2.epoch.between(1, 2), "disp_grad"] = np.nan  # the first phase: epochs 1-2 at eta*lam/m = 0.5
    table = {r["layer"]: r for r in claim_dominance(pd.concat([w1, w2], ignore_index=True))["table"]}
    assert table["W1"]["strong_reading_holds"] is True
    assert table["W2"]["strong_reading_holds"] is None and table["net"]["strong_reading_holds"] is None


def test_one_seed_gives_each_setting_its_window_and_resolution():
    (row, *_) = claim_dominance(fake_runs(widths=(10,), seeds=(0,), epochs=5))["table"]
    assert (row["window_epochs"], row["resolved"], row["decay_share"]["seeds"]) == (2.0, True, 1)


def test_the_tail_off_figure_dashes_four_lam_over_n_apart_and_a_fifth_solid_again(tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr(tail_off_claim, "_save", lambda fig, out_dir, name: drawn.append(fig))
    lams = (10.0, 20.0, 40.0, 100.0, 200.0)  # lam/n 0.01 ... 0.2
    tail_off_claim.draw(pd.concat([fake_network(prefactor=lam / 10, lam=lam) for lam in lams]), tmp_path)
    fits = {line.get_label().split(":")[0]: line.get_linestyle() for line in drawn.pop().axes[1].lines
            if line.get_label().startswith("fit")}
    assert [fits[f"fit, standard, λ/n={lam / 1000:g}"] for lam in lams] == ["-", "--", ":", "-.", "-"]
    plt.close("all")


def test_weights_that_reached_zero_have_no_settled_plateau_and_break_nothing():
    """A collapsed run whose weights underflow to exactly 0 inside the plateau window: not settled (no log of 0)."""
    layer, net = fake_runs(widths=(10,), seeds=(0,), epochs=10), fake_network(hidden=("10",), seeds=(0,), epochs=10)
    for w in (layer, net):
        w.loc[w.epoch >= 9, "rms"] = 0.0
    layer.loc[layer.epoch >= 9, "shrink"] = 0.0
    with np.errstate(divide="ignore"):
        assert not tail_off(layer).plateau_settled.any()
    assert not tail_off_claim.network_plateaus(net).plateau_settled.any()
