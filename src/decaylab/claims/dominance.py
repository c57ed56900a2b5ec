"""Claim 1, early-decay dominance: "supposing λ is not too small, the first epochs of training will be dominated
almost entirely by weight decay" (for the old init, N(0, 1)).

Measured on the standard init (the scaled init as the contrast), per weight layer and for the whole network, over
"the first epochs": those ending within decay time epochs x eta*lam/m <= DECAY_WINDOW. Size reading: the decay
term's share of the change of |W|^2, |decay| / (|decay| + |drift| + |noise|), >= SHARE_THRESHOLD in every seed
(the status); strong reading: the decay displacement outweighs the gradient's. The book's mechanism beside it:
W1's saturated units and mean sigma' in that window. A setting whose window ends inside epoch 1 (eta*lam/m >
DECAY_WINDOW) is not resolved by per-epoch measurements: counted, not judged.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from decaylab.analyze import CELL_KEYS, DECAY_WINDOW, RUN_KEYS, decay_share, decaying, interval, window_end
from decaylab.claims.verdict import Claim, _settings, _status, _where, headline, judged_count, not_testable
from decaylab.figures import _empty, _faceted, _finish, _reference, _save

SHARE_THRESHOLD = 0.9


def with_network(d: pd.DataFrame) -> pd.DataFrame:
    """Weight-layer rows plus a `net` row per run and epoch: the whole network's decay, drift and noise terms (sums:
    its |W|^2 is the layers' sum) and its displacements (the layers' in quadrature)."""
    keys = [*RUN_KEYS, "m", "n", "epoch"]
    net = d.groupby(keys, as_index=False).agg(
        decay=("decay", "sum"), drift=("drift", "sum"), noise=("noise", "sum"),
        disp_decay=("disp_decay", lambda v: float(np.sqrt((v**2).sum()))),
        disp_grad=("disp_grad", lambda v: float(np.sqrt((v**2).sum()))))
    return pd.concat([d, net.assign(layer="net")], ignore_index=True)


SATURATION = ["z_sat_frac", "sigma_prime_mean"]  # measured on W1's units: the book's mechanism of claim 1


def early_shares(w: pd.DataFrame) -> pd.DataFrame:
    """Per run and layer (each weight layer and the whole network; lam > 0): the mean decay share and displacement
    ratio over its first epochs (decay time <= DECAY_WINDOW), the window's length, whether epochs resolve it
    (eta*lam/m <= DECAY_WINDOW), and W1's saturation there."""
    early = decaying(w)
    if early.empty:
        return early
    early = with_network(early[early.epoch <= window_end(early)])
    early = early.assign(decay_share=decay_share(early), disp_ratio=early.disp_decay / early.disp_grad)
    measured = ["decay_share", "disp_ratio", *(c for c in SATURATION if c in early)]
    out = early.groupby([*RUN_KEYS, "m", "n", "layer"], as_index=False)[measured].mean()
    out["window_epochs"] = window_end(out)
    out["resolved"] = out.eta * out.lam / out.m <= DECAY_WINDOW
    return out


def claim_dominance(w: pd.DataFrame) -> dict:
    """Claim 1: the first epochs are dominated by weight decay (both readings), per layer, for the whole network, per
    cell; with W1's saturation in that window (the book's mechanism)."""
    per_run = early_shares(w)
    if per_run.empty:
        return {"details": "not testable: no run with lam > 0", "table": []}
    rows = []
    for key, g in per_run.groupby([*CELL_KEYS, "m", "n", "layer"]):
        rows.append({**dict(zip([*CELL_KEYS, "m", "n", "layer"], key)), "eta_lam_over_m": key[3] * key[2] / key[5],
                     "lam_over_n": key[2] / key[6], "window_epochs": int(g.window_epochs.iloc[0]),
                     "resolved": bool(g.resolved.iloc[0]), "decay_share": interval(g.decay_share),
                     "disp_ratio": interval(g.disp_ratio),
                     **{c: interval(g[c]) for c in SATURATION if c in g and g[c].notna().any()},
                     "size_reading_holds": bool((g.decay_share >= SHARE_THRESHOLD).all()),
                     "strong_reading_holds": bool((g.disp_ratio > 1).all())})
    return {"details": f"First epochs: those ending within decay time τ = epochs·ηλ/m ≤ {DECAY_WINDOW:g} (at least "
                       f"one). Size reading: decay share of the change of ‖W‖² ≥ {SHARE_THRESHOLD:g} in every seed; "
                       "strong reading: decay displacement > gradient displacement in every seed.", "table": rows}


def judge(claim: dict, w: pd.DataFrame, measured: dict) -> dict:
    """Claim 1 on its premise, the standard init: the whole network's decay share over the first epochs (decay time
    <= DECAY_WINDOW) is >= SHARE_THRESHOLD in every seed; settings whose window ends inside epoch 1 are not resolved
    by per-epoch measurements and are counted, not judged. Per layer, the displacement reading, the scaled init and
    W1's saturation are reported beside it."""
    table = pd.DataFrame(claim.get("table", []))
    if table.empty:
        return not_testable("no run with lam > 0")
    premise = table[(table.init == "standard") & table.resolved]
    network = premise[premise.layer == "net"]
    unresolved = table[(table.init == "standard") & ~table.resolved & (table.layer == "net")]
    if network.empty:
        return not_testable("no setting of the standard init (the claim's premise) whose first epochs (decay time "
                            f"≤ {DECAY_WINDOW:g}) span at least one whole epoch")
    answer = (f"Standard init, whole network: decay makes up ≥ {SHARE_THRESHOLD:g} of the change of ‖W‖² over "
              f"the first epochs (decay time τ ≤ {DECAY_WINDOW:g}) in {_where(network, 'size_reading_holds')}; "
              f"its displacement outweighs the gradient's in {_where(network, 'strong_reading_holds')}. Per layer: "
              + ", ".join(f"{layer} {int(g.size_reading_holds.sum())}/{len(g)}"
                          for layer, g in premise[premise.layer != "net"].groupby("layer")) + ".")
    contrast = table[(table.init == "scaled") & table.resolved & (table.layer == "net")]
    if len(contrast):
        answer += (f" Scaled init (contrast): {int(contrast.size_reading_holds.sum())}/{len(contrast)} settings.")
    saturation = _saturation(table[table.resolved & (table.layer == "W1")])
    if saturation:
        answer += f" {saturation}."
    if len(unresolved):
        answer += (f" Not judged: {_settings(len(unresolved))} where ηλ/m > {DECAY_WINDOW:g}, whose first "
                   "phase ends inside epoch 1.")
    runs = early_shares(w)
    mine = runs[(runs.init == "standard") & runs.resolved & (runs.layer == "net")]
    numbers = [headline("whole network's decay share over the first epochs, standard init",
                        mine.groupby("seed").decay_share.mean(), "", network.decay_share)]
    for init in ("standard", "scaled"):
        w1 = runs[(runs.init == init) & runs.resolved & (runs.layer == "W1")]
        if "z_sat_frac" in w1 and len(w1):
            numbers.append(headline(f"W1 saturated units over the first epochs, {init} init",
                                    w1.groupby("seed").z_sat_frac.mean(), "",
                                    table[(table.init == init) & table.resolved & (table.layer == "W1")].z_sat_frac))
    return {"status": _status(int(network.size_reading_holds.sum()), len(network)), "answer": answer,
            "headline": numbers}


def _saturation(w1: pd.DataFrame) -> str:
    """The book's mechanism in numbers: W1's saturated units and mean sigma' over the first epochs, per init."""
    if "z_sat_frac" not in w1 or w1.empty:
        return ""
    parts = [f"{init} {np.mean([h['mean'] for h in g.z_sat_frac]):.2f} saturated, mean σ′ "
             f"{np.mean([h['mean'] for h in g.sigma_prime_mean]):.3f}"
             for init, g in w1.groupby("init") if init in ("standard", "scaled")]
    return "W1's hidden units over the first epochs (the book's mechanism): " + "; ".join(parts) if parts else ""


def draw(w: pd.DataFrame, out_dir: Path, runs=None) -> None:
    """Each epoch's decay share of the change of |W|^2 against decay time, per layer and the whole network."""
    d = decaying(w)
    if d.empty:
        return _empty(out_dir, "dominance", "no run with lam > 0")
    d = with_network(d)
    d["τ = epochs · ηλ/m"] = d.epoch * d.eta * d.lam / d.m
    d = d[d["τ = epochs · ηλ/m"] <= 10 * DECAY_WINDOW].assign(**{"decay share": decay_share})
    g = _faceted(d, "τ = epochs · ηλ/m", "decay share")
    g.set(xscale="log", ylim=(0, 1.03))
    for ax in g.axes.flat:
        _reference(ax, horizontal=SHARE_THRESHOLD)
        _reference(ax, vertical=DECAY_WINDOW)
    extra = [(plt.Line2D([], [], color="tab:red", lw=0.9, ls=(0, (6, 2))), f"threshold {SHARE_THRESHOLD:g}"),
             (plt.Line2D([], [], color="tab:red", lw=0.9, ls=(0, (2, 2))), f"end of the first epochs, τ = "
                                                                           f"{DECAY_WINDOW:g}")]
    count = judged_count(claim_dominance(w)["table"], "size_reading_holds")
    _finish(g, f"Claim 1: decay dominates the standard init's first epochs in {count} settings (whole network)",
            extra)
    _save(g.figure, out_dir, "dominance")


def tables(claim: dict) -> list[tuple[str, list[dict], list[str]]]:
    """The report's tables of this claim: (introduction, rows, columns)."""
    return [("Per setting and layer (`net`: the whole network), over its first epochs "
                                 "(decay time ≤ the window; `resolved`: the window spans a whole epoch); W1's "
                                 "saturated units and mean σ′ there:",
                                 claim.get("table", []), [
        "layer", "arm", "init", "lam", "eta", "hidden", "eta_lam_over_m", "window_epochs", "resolved",
        "decay_share", "disp_ratio", "z_sat_frac", "sigma_prime_mean", "size_reading_holds",
        "strong_reading_holds"])]


CLAIM = Claim(
    key="1_early_decay_dominance", title="Early-decay dominance",
    statement=("supposing λ is not too small, the first epochs of training will be dominated almost entirely by "
               "weight decay"),
    figure="dominance",
    caption=("Claim 1, early-decay dominance: each epoch's decay share of the change of |W|^2 against decay time "
             "tau = epochs x eta*lambda/m (log), per weight layer and for the whole network (columns), a row per "
             "other setting; colour: init, line style: lambda; mean and 95% band over seeds. Red: the threshold "
             "0.9 and the end of the first epochs (tau = 1)."),
    measure=lambda w, runs: claim_dominance(w), judge=judge, draw=draw, tables=tables,
    thresholds={"decay_window": DECAY_WINDOW, "decay_share": SHARE_THRESHOLD})
