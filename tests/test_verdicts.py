"""Each claim's status, answer and headline numbers, on constructed runs whose answers are known."""

import math

import pandas as pd
import pytest
from scipy.stats import t as student_t
from test_analyze import fake_network, fake_runs

from decaylab.analyze import interval
from decaylab.claims import decay_rate, dominance, init_comparison, tail_off
from decaylab.claims.decay_rate import claim_decay_rate
from decaylab.claims.dominance import claim_dominance
from decaylab.claims.init_comparison import equivalent, lam_contrasts
from decaylab.claims.tail_off import claim_tail_off


def test_interval_is_students_t_over_seeds():
    got = interval([1.0, 2.0, 3.0])
    half = student_t.ppf(0.975, 2) * 1.0 / math.sqrt(3)
    assert got["mean"] == 2.0 and got["ci95"] == pytest.approx([2 - half, 2 + half]) and got["seeds"] == 3
    assert interval([0.5]) == {"mean": 0.5, "ci95": None, "seeds": 1}


def _two_layers(w1_drift: float, w2_drift: float, lam: float = 10.0, init: str = "standard") -> pd.DataFrame:
    w1 = fake_runs(epochs=5, lam=lam).assign(drift=w1_drift, init=init)
    return pd.concat([w1, w1.assign(layer="W2", n_in=30, drift=w2_drift)], ignore_index=True)


def _dominance(w: pd.DataFrame) -> dict:
    return dominance.judge(claim_dominance(w), w, {})


@pytest.mark.parametrize("w1,w2,status,words", [
    (0.05, 0.05, "holds", "in 3/3 settings; its displacement"),
    (0.05, 0.3, "fails", "Per layer: W1 3/3, W2 0/3"),  # W1 alone is dominated; the network's share is 0.84
    (5.0, 5.0, "fails", "in 0/3 settings"),
])
def test_dominance_status_is_the_whole_networks_on_the_standard_init(w1, w2, status, words):
    got = _dominance(_two_layers(w1, w2))
    net_share = 2 / (2 + w1 + w2 + 0.02)
    assert got["status"] == ("holds" if net_share >= 0.9 else "fails") == status and words in got["answer"]
    assert got["headline"][0]["mean"] == pytest.approx(net_share)
    assert all(h["ci95"][0] <= h["mean"] <= h["ci95"][1] for h in got["headline"])


def test_a_condition_separating_the_settings_is_named():
    """Decay dominates where eta*lam/m is large: the answer names the smallest value where it holds."""
    cells = [_two_layers(0.05 if lam >= 10 else 5.0, 0.05, lam=lam) for lam in (1.0, 10.0)]
    got = _dominance(pd.concat(cells, ignore_index=True))
    assert got["status"] == "holds-conditionally" and "in 3/6 settings, exactly where ηλ/m ≥ 0.5" in got["answer"]


def test_the_scaled_init_is_the_contrast_and_fast_decays_are_counted_not_judged():
    """The scaled init never enters the status; a setting whose window ends inside epoch 1 (eta*lam/m = 5) is
    counted, not judged."""
    w = pd.concat([_two_layers(0.05, 0.05), _two_layers(5.0, 5.0, init="scaled"), _two_layers(5.0, 5.0, lam=100.0)],
                  ignore_index=True)
    got = _dominance(w)
    assert got["status"] == "holds" and "Scaled init (contrast): 0/3 settings" in got["answer"]
    assert "Not judged: 3 settings where ηλ/m > 1" in got["answer"]
    assert _dominance(_two_layers(0.05, 0.05, init="scaled"))["answer"] == (
        "Not testable here: no setting of the standard init (the claim's premise) whose first phase (decay time ≤ 1) "
        "is measured.")


def _decay_rate(w: pd.DataFrame) -> dict:
    return decay_rate.judge(claim_decay_rate(w), w, {"1_early_decay_dominance": claim_dominance(w)})


def test_decay_rate_status_and_its_per_seed_error():
    exact = _decay_rate(pd.concat([fake_runs(epochs=5), fake_network(lam=10.0)]))
    assert exact["status"] == "holds" and exact["headline"][0]["mean"] == pytest.approx(0, abs=1e-12)
    assert "in 4/4 settings" in exact["answer"]
    slow = _decay_rate(pd.concat([fake_runs(epochs=5), fake_network(lam=10.0, rate_factor=0.7)]))
    assert slow["status"] == "fails" and slow["headline"][0]["mean"] == pytest.approx(0.3)


def test_decay_rate_names_where_eta_lam_over_n_stops_the_exponential():
    """Full batch (m = n), weights shrinking by the exact factor: the claim holds where eta*lam/n <= 0.02 and
    not at 0.2; the answer names the condition and the largest setting's error."""
    w = pd.concat([fake_network(hidden=("10", "30"), lam=10.0, n=n, m=n, exact=True, epochs=60) for n in (250, 25)])
    got = _decay_rate(w)
    assert got["status"] == "holds-conditionally"
    assert "in 2/4 settings, exactly where ηλ/n ≤ 0.02" in got["answer"]
    assert got["headline"][1]["name"] == "the same where ηλ/n is largest (0.2)"
    assert got["headline"][1]["mean"] == pytest.approx(-math.log(0.8) / 0.2 - 1, rel=1e-6)
    assert "parts from exp(-ηλ/m) by up to 12 % here (ηλ/n up to 0.2)" in got["answer"]


def test_what_the_runs_cannot_test_is_named_never_nan():
    no_decay = fake_runs(epochs=5).assign(lam=0.0)
    for got in (_dominance(no_decay), _decay_rate(no_decay)):
        assert got == {"status": "not-testable", "answer": "Not testable here: no run with lam > 0.", "headline": []}
    fast = fake_runs(epochs=5, lam=100.0)  # eta*lam/m = 5: the first phase ends inside epoch 1
    assert "span at least one whole epoch" in _decay_rate(fast)["answer"]
    one_width = tail_off.judge(claim_tail_off(fake_network(hidden=("30",))))
    assert one_width["status"] == "not-testable" and "one network size (n_w = 23,820)" in one_width["answer"]
    assert _init_judge(fake_runs(epochs=5))["status"] == "not-testable"
    for got in (one_width, _dominance(no_decay)):
        assert "nan" not in got["answer"].lower()


def _network_and_w1(prefactor: float, power: float = 0.5, init: str = "standard") -> pd.DataFrame:
    return pd.concat([fake_network(prefactor=prefactor, power=power, init=init),
                      fake_runs(widths=(10, 30, 100), power=power).assign(init=init, lam=5.0)], ignore_index=True)


@pytest.mark.parametrize("prefactor,power,status,words", [
    (1.0, 0.5, "holds", "containing -1/2 in 1/1; magnitude"),
    (3.5, 0.5, "fails", "containing -1/2 in 1/1; magnitude: plateau x sqrt(n_w) = 3.54"),  # 3.5 times too large
    (30.0, 1.0, "fails", "containing -1/2 in 0/1"),  # the wrong form
])
def test_tail_off_status_needs_the_form_and_the_magnitude(prefactor, power, status, words):
    got = tail_off.judge(claim_tail_off(_network_and_w1(prefactor, power)))
    assert got["status"] == status and words in got["answer"]
    assert got["headline"][0]["mean"] == pytest.approx(-power)
    assert "Per layer (one hidden layer): W1 " in got["answer"]


def test_tail_off_is_judged_on_the_standard_init_the_claims_premise():
    """A scaled-init study alone does not test the claim; beside a standard one it does not move the verdict."""
    scaled = _network_and_w1(3.5, init="scaled")
    assert tail_off.judge(claim_tail_off(scaled))["status"] == "not-testable"
    both = tail_off.judge(claim_tail_off(pd.concat([_network_and_w1(1.0), scaled], ignore_index=True)))
    assert both["status"] == "holds" and both["headline"][1]["mean"] == pytest.approx(1.01, rel=1e-3)


def _init_judge(w: pd.DataFrame) -> dict:
    return init_comparison.judge({}, w, {})


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
    got = _init_judge(_init_pair(0.06, 0.002, 1.0))
    first, last = got["headline"][:2]
    assert first["mean"] == pytest.approx(0.06) and first["ci95"] == pytest.approx([0.06, 0.06])
    assert last["mean"] == pytest.approx(0.002)
    assert got["status"] == "holds" and "+6.0 pp" in got["answer"] and "in 1/1 settings" in got["answer"]
    (row,) = got["accuracy_table"]
    assert row["closure"]["mean"] == pytest.approx(0.058) and row["equivalent"]
    apart = _init_judge(_init_pair(0.06, 0.02, 4.0))
    assert apart["status"] == "fails" and not apart["accuracy_table"][0]["equivalent"]
    assert apart["weights_table"][0]["rms_ratio_final"]["mean"] == pytest.approx(4.0)


def test_equivalence_needs_the_interval_inside_the_margin_not_zero_inside_the_interval():
    """A noisy lead whose interval contains 0 is not equivalence (the old rule passed it); a tight one is."""
    assert not equivalent([-0.02, 0.0, 0.02], 0.005)
    assert equivalent([0.001, 0.002, 0.003], 0.005)
    assert not equivalent([0.004, 0.0045, 0.005], 0.005)  # inside, but its interval reaches the margin
    assert not equivalent([0.001], 0.005)  # never from one seed
    assert not equivalent([-0.009, -0.0095, -0.0098], init_comparison.SAME_ACCURACY)  # the lower side too


def test_equivalence_from_two_seeds_and_at_the_margin_exactly():
    """Two seeds are enough for the t-interval (one degree of freedom); a lead lying exactly on either margin, with
    no spread, is not inside it (the margin is open)."""
    assert equivalent([0.001, 0.0011], 0.01)
    assert equivalent([0.0099, 0.0099], 0.01) and equivalent([-0.0099, -0.0099], 0.01)
    assert not equivalent([0.01, 0.01], 0.01) and not equivalent([-0.01, -0.01], 0.01)


@pytest.mark.parametrize("ratio,reachable", [(7.0, True), (7.7, True), (8.5, False)])
def test_a_scaled_size_within_same_size_below_the_pure_decay_floor_is_reachable(ratio, reachable):
    """Pure decay over 4 epochs at eta*lam/m = 0.5 stops at e^-2 = 0.135 of the standard init's RMS: a scaled init
    1/7 of it lies above that floor, 1/7.7 below it by 4 % (within SAME_SIZE, 10 %), 1/8.5 below it by 13 %."""
    assert init_comparison.SAME_SIZE == 0.10
    (weights,) = _init_judge(_init_pair(0.06, 0.002, ratio))["weights_table"]
    assert bool(weights["reachable"]) is reachable


def test_claim4_contrasts_l2_with_the_same_setting_without_and_marks_unreachable_sizes():
    """The lead with L2 against the lead without (another arm, same eta, width, n, m, epochs, seed): the
    difference in differences; and a scaled init 20 times smaller than the standard one is out of reach of pure
    decay over 4 epochs at eta*lam/m = 0.5 (floor e^-2 = 0.135 > 0.05)."""
    w = pd.concat([_init_pair(0.06, 0.004, 20.0), _init_pair(0.06, 0.03, 20.0, lam=0.0, arm="noreg")],
                  ignore_index=True)
    got = _init_judge(w)
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
    (row,) = lam_contrasts(runs)
    assert row["acc_validation_gain"]["mean"] == pytest.approx(0.03)
    assert row["acc_validation_gain"]["ci95"] == pytest.approx([0.03, 0.03])
    assert row["acc_test_gain"]["seeds"] == 4
    # a pair with a collapsed run (seed 3, with L2) or a diverged one (seed 2, without) is left out
    runs.loc[(runs.seed == 3) & (runs.lam > 0), "collapsed"] = True
    runs.loc[(runs.seed == 2) & (runs.lam == 0), "diverged"] = True
    (row,) = lam_contrasts(runs)
    assert row["acc_test_gain"]["seeds"] == row["acc_validation_gain"]["seeds"] == 2


def test_the_book_mechanism_sentence_names_each_inits_saturation_or_is_left_out():
    from decaylab.claims.dominance import _saturation
    from decaylab.claims.tail_off import _per_layer_slopes

    def w1(init):
        return pd.DataFrame({"init": [init] * 2, "z_sat_frac": [{"mean": 0.25}, {"mean": 0.75}],
                             "sigma_prime_mean": [{"mean": 0.1}, {"mean": 0.15}]})

    assert _saturation(w1("standard")) == ("W1's hidden units over the first phase (the book's mechanism): standard "
                                           "0.50 saturated, mean σ′ 0.125")
    assert _saturation(w1("he")) == _saturation(w1("standard").iloc[:0]) == _saturation(pd.DataFrame()) == ""
    assert _per_layer_slopes({"table": []}) == ""


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
    got = _init_judge(pd.DataFrame(rows))
    assert got["status"] == "holds" and "in 2/2 settings" in got["answer"]


def test_a_setting_holds_only_where_every_seed_does_and_a_missing_seed_is_not_a_failure():
    """Claim 1 quantifies over seeds: in one setting one seed's first epochs are gradient-dominated (the setting
    fails), in another a seed is missing (it holds on the seeds it has); the count and the headline's seeds show
    both."""
    one_bad = _two_layers(0.05, 0.05, lam=10.0)
    one_bad.loc[(one_bad.seed == 1) & (one_bad.hidden == "10"), "drift"] = 5.0
    missing = one_bad[~((one_bad.seed == 2) & (one_bad.hidden == "30"))]
    table = claim_dominance(missing)["table"]
    net = {r["hidden"]: r for r in table if r["layer"] == "net"}
    assert not net["10"]["size_reading_holds"] and net["30"]["size_reading_holds"] and net["100"]["size_reading_holds"]
    assert (net["10"]["decay_share"]["seeds"], net["30"]["decay_share"]["seeds"]) == (3, 2)
    got = dominance.judge(claim_dominance(missing), missing, {})
    assert got["status"] == "holds-conditionally" and "in 2/3 settings" in got["answer"]


def test_claim4_is_testable_from_any_lam_above_0_and_compares_l2_from_a_single_seed():
    """A setting at lam = 0.5 is a setting with L2; a study without L2 is not testable; the change of the lead by L2
    is reported from one seed too (its interval left out)."""
    assert _init_judge(_init_pair(0.06, 0.002, 1.0, lam=0.5))["status"] == "holds"
    assert _init_judge(_init_pair(0.06, 0.002, 1.0, lam=0.0))["status"] == "not-testable"
    w = pd.concat([_init_pair(0.06, 0.004, 20.0), _init_pair(0.06, 0.03, 20.0, lam=0.0, arm="noreg")],
                  ignore_index=True)
    got = _init_judge(w[w.seed == 0])
    assert "; L2 changes that final lead by -2.6 pp against the same 1 setting without L2." in got["answer"]


def test_the_init_figure_marks_means_of_few_seeds_logs_time_past_60_epochs_and_needs_no_runs_table(tmp_path,
                                                                                                   monkeypatch):
    """One seed: its means are crossed and the legend says why; epochs past 60 on a log axis, up to 60 linear; the
    book's marks are optional (no runs table, or one without the book's figures)."""
    import matplotlib.pyplot as plt

    from decaylab.figures import FEW_SEEDS_HANDLE

    drawn = []
    monkeypatch.setattr(init_comparison, "_save", lambda fig, out_dir, name: drawn.append(fig))
    one_seed = _init_pair(0.06, 0.002, 1.0)
    one_seed = one_seed[one_seed.seed == 0]
    for last, xscale, runs in ((61, "log", None), (60, "linear", pd.DataFrame({"arm": ["a"]}))):
        init_comparison.draw(one_seed.assign(epoch=one_seed.epoch * last // 4), tmp_path, runs)
        fig = drawn.pop()
        assert [ax.get_xscale() for ax in fig.axes] == [xscale, xscale]
        assert FEW_SEEDS_HANDLE[1] in [t.get_text() for t in fig.legends[0].get_texts()]
        plt.close(fig)


def test_the_init_figure_marks_few_seeds_where_either_panel_has_them(tmp_path, monkeypatch):
    """Three seeds everywhere: no cross in the legend; an epoch whose accuracy (or weights) one seed alone has: it
    is there."""
    import matplotlib.pyplot as plt

    from decaylab.figures import FEW_SEEDS_HANDLE

    drawn = []
    monkeypatch.setattr(init_comparison, "_save", lambda fig, out_dir, name: drawn.append(fig))
    w = _init_pair(0.06, 0.002, 1.0)
    one_seeds_accuracy = pd.concat([w, w[(w.layer == "net") & (w.seed == 0) & (w.epoch == 1)].assign(epoch=2)])
    one_seeds_weights = w[~((w.layer == "W1") & (w.seed > 0) & (w.epoch == 2))]
    for case, shown in ((w, False), (one_seeds_accuracy, True), (one_seeds_weights, True)):
        init_comparison.draw(case, tmp_path)
        fig = drawn.pop()
        assert (FEW_SEEDS_HANDLE[1] in [t.get_text() for t in fig.legends[0].get_texts()]) is shown
        plt.close(fig)
