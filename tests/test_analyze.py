"""The claim analysis on constructed runs whose answers are known."""

import math

import numpy as np
import pandas as pd

from decaylab.analyze import claim_decay_rate, claim_dominance, slope_over_seeds, tail_off


def fake_runs(widths=(10, 30, 100), seeds=(0, 1, 2), epochs=40, eta=0.5, lam=10.0, m=10, n=1000):
    """W1 RMS decays at exactly exp(-eta*lam/m) per epoch from 1 to a plateau c/sqrt(n_w) (plus seed noise)."""
    rows = []
    rate = eta * lam / m
    for h in widths:
        n_w = 784 * h + h * 10
        for seed in seeds:
            plateau = 3.0 / math.sqrt(n_w) * (1 + 0.01 * seed)
            rms = [max(math.exp(-rate * e), plateau) for e in range(epochs + 1)]
            for e in range(epochs + 1):
                base = dict(arm="a", init="standard", lam=lam, eta=eta, hidden=str(h), seed=seed, n=n, m=m,
                            epochs=epochs, n_w=n_w, sizes=f"784-{h}-10", epoch=e, layer="W1")
                metrics = {"rms": rms[e]}
                if e:
                    metrics.update(shrink=rms[e] / rms[e - 1], decay=-1.0, drift=0.05, noise=0.01,
                                   disp_decay=2.0, disp_grad=1.0)
                rows.append({**base, **metrics})
    return pd.DataFrame(rows)


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
    assert all(r["median_rel_error"] < 1e-12 for r in rate["table"])
    assert "in 1/1" in rate["verdict"]
    np.testing.assert_allclose([r["eta_lam_over_n"] for r in rate["table"]], [0.005])
