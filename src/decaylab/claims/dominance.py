"""Claim 1, early-decay dominance: "supposing λ is not too small, the first epochs of training will be dominated
almost entirely by weight decay" (for the old init, N(0, 1)).

Measured on the standard init (the scaled init as the contrast), per weight layer and for the whole network, over
"the first epochs", the first phase: those ending within decay time epochs x eta*lam/m <= DECAY_WINDOW. Size
reading: the decay term's share of the change of |W|^2, |decay| / (|decay| + |drift| + |noise|), >= SHARE_THRESHOLD
in every seed (the status); strong reading: the decay displacement outweighs the gradient's. The book's mechanism
beside it: W1's saturated units and mean sigma' in that window. Where eta*lam/m > DECAY_WINDOW the window ends inside
epoch 1: it is measured at the last point inside that epoch (glossary.SUB_EPOCH, fractions of its steps) with decay
time <= DECAY_WINDOW, from the start of training, and the saturation at its start (the initial network); the
displacements are measured at epoch ends only, so the strong reading is not available there. A setting faster than
the first point is counted, not judged.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from decaylab.analyze import CELL_KEYS, DECAY_WINDOW, RUN_KEYS, decay_share, decaying, interval, window_end, without
from decaylab.claims.verdict import Claim, _settings, _status, _where, headline, judged_count, not_testable
from decaylab.figures import _empty, _faceted, _finish, _reference, _save
from decaylab.glossary import SUB_EPOCH, sub_epoch_name

SHARE_THRESHOLD = 0.9


def _quadrature(v: pd.Series) -> float:
    return float(np.sqrt((v**2).sum(skipna=False)))


def with_network(d: pd.DataFrame) -> pd.DataFrame:
    """Weight-layer rows plus a `net` row per run and epoch: the whole network's decay, drift and noise terms (sums:
    its |W|^2 is the layers' sum) and its displacements (the layers' in quadrature)."""
    keys = [*RUN_KEYS, "m", "n", "epoch"]
    extra = {"window_epochs": ("window_epochs", "first")} if "window_epochs" in d else {}
    net = d.groupby(keys, as_index=False).agg(**extra,
        decay=("decay", "sum"), drift=("drift", "sum"), noise=("noise", "sum"),
        disp_decay=("disp_decay", _quadrature), disp_grad=("disp_grad", _quadrature))
    return pd.concat([d, net.assign(layer="net")], ignore_index=True)


PARTS = ("decay", "drift", "noise")  # the change of |W|^2, term by term (network.StepStats)
SATURATION = ["z_sat_frac", "sigma_prime_mean"]  # measured on W1's units: the book's mechanism of claim 1


def first_phase_points(early: pd.DataFrame) -> pd.DataFrame:
    """Epoch 1's rows at each point inside it (glossary.SUB_EPOCH): the decay, drift and noise terms summed from the
    start of training to the point, `epoch` the point's fraction of the epoch. Empty where not measured."""
    first = early[early.epoch == 1]
    if first.empty or sub_epoch_name("decay", SUB_EPOCH[0]) not in first:
        return first.iloc[:0]
    points = [first.assign(epoch=fraction, **{part: first[sub_epoch_name(part, fraction)] for part in PARTS})
              for fraction in SUB_EPOCH]
    return pd.concat(points, ignore_index=True).dropna(subset=list(PARTS))


def window_fraction(d: pd.DataFrame) -> pd.Series:
    """The window's end, in epochs: whole epochs (analyze.window_end) where eta*lam/m <= DECAY_WINDOW, else the last
    point inside epoch 1 with decay time <= DECAY_WINDOW (NaN where even the first point is later)."""
    rate = d.eta * d.lam / d.m
    inside = pd.Series(np.nan, index=d.index)
    for fraction in SUB_EPOCH:  # ascending: the last that fits wins
        inside[fraction * rate <= DECAY_WINDOW * (1 + 1e-9)] = fraction
    return window_end(d).astype(float).where(rate <= DECAY_WINDOW, inside)


def early_shares(w: pd.DataFrame) -> pd.DataFrame:
    """Per run and layer (each weight layer and the whole network; lam > 0): the mean decay share and displacement
    ratio over its first phase (decay time <= DECAY_WINDOW), the window's end in epochs (`window_epochs`), whether
    it is measured (`resolved`; if not, epoch 1's numbers, shown and not judged) and W1's saturation there."""
    early = decaying(w)
    if early.empty:
        return early
    fast = early.eta * early.lam / early.m > DECAY_WINDOW
    epochs = early[~fast & (early.epoch <= window_end(early))]
    inside = first_phase_points(early[fast])
    inside = inside[inside.epoch == window_fraction(inside)]
    if len(inside):  # saturation at the phase's start, the initial network; displacements only at epoch ends
        start = decaying(w, trained=False)
        start = start[start.epoch == 0].set_index([*RUN_KEYS, "layer"])
        keys = pd.MultiIndex.from_frame(inside[[*RUN_KEYS, "layer"]])
        inside = inside.assign(disp_decay=np.nan, disp_grad=np.nan,
                               **{c: start[c].reindex(keys).to_numpy() for c in SATURATION if c in start})
    rest = without(early[fast & (early.epoch == 1)], inside, RUN_KEYS)
    early = pd.concat([epochs.assign(window_epochs=window_end(epochs).astype(float)),
                       inside.assign(window_epochs=inside.epoch), rest.assign(window_epochs=np.nan)],
                      ignore_index=True)
    early = with_network(early)
    early = early.assign(decay_share=decay_share(early), disp_ratio=early.disp_decay / early.disp_grad)
    measured = ["decay_share", "disp_ratio", *(c for c in SATURATION if c in early)]
    out = early.groupby([*RUN_KEYS, "m", "n", "layer"], as_index=False).agg(
        **{c: (c, "mean") for c in measured}, window_epochs=("window_epochs", "first"))
    out["resolved"] = out.window_epochs.notna()
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
                     "lam_over_n": key[2] / key[6], "window_epochs": _number(g.window_epochs.iloc[0]),
                     "resolved": bool(g.resolved.iloc[0]), "decay_share": interval(g.decay_share),
                     "disp_ratio": interval(g.disp_ratio),
                     **{c: interval(g[c]) for c in SATURATION if c in g and g[c].notna().any()},
                     "size_reading_holds": bool((g.decay_share >= SHARE_THRESHOLD).all()),
                     "strong_reading_holds": bool((g.disp_ratio > 1).all()) if g.disp_ratio.notna().all() else None})
    return {"details": f"First phase: from the start until decay time τ = epochs·ηλ/m reaches {DECAY_WINDOW:g} — "
                       "whole epochs where ηλ/m ≤ 1 (at least one), else the last point inside epoch 1 (at "
                       f"fractions {', '.join(f'1/{round(1 / f)}' for f in SUB_EPOCH)} of its steps) with τ ≤ "
                       f"{DECAY_WINDOW:g}. Size reading: decay share of the change of ‖W‖² ≥ {SHARE_THRESHOLD:g} "
                       "in every seed; strong reading: decay displacement > gradient displacement in every seed "
                       "(measured at epoch ends only).", "table": rows}


def _number(x: float) -> float | None:
    return None if pd.isna(x) else float(x)


def judge(claim: dict, w: pd.DataFrame, measured: dict) -> dict:
    """Claim 1 on its premise, the standard init: the whole network's decay share over the first phase (decay time
    <= DECAY_WINDOW) is >= SHARE_THRESHOLD in every seed; settings whose phase is not measured are counted, not
    judged. Per layer, the displacement reading, the scaled init and W1's saturation are reported beside it."""
    table = pd.DataFrame(claim.get("table", []))
    if table.empty:
        return not_testable("no run with lam > 0")
    premise = table[(table.init == "standard") & table.resolved]
    network = premise[premise.layer == "net"]
    unresolved = table[(table.init == "standard") & ~table.resolved & (table.layer == "net")]
    if network.empty:
        return not_testable("no setting of the standard init (the claim's premise) whose first phase (decay time "
                            f"≤ {DECAY_WINDOW:g}) is measured")
    displaced = network[network.strong_reading_holds.notna()].astype({"strong_reading_holds": bool})
    inside = int((network.eta_lam_over_m > DECAY_WINDOW).sum())
    answer = (f"Standard init, whole network: decay makes up ≥ {SHARE_THRESHOLD:g} of the change of ‖W‖² over "
              f"the first phase (decay time τ ≤ {DECAY_WINDOW:g}) in {_where(network, 'size_reading_holds')}"
              + (f" ({inside} of them measured inside epoch 1)" if inside else "") + "; "
              + (f"its displacement outweighs the gradient's in {_where(displaced, 'strong_reading_holds')} whose "
                 "first phase spans whole epochs" if len(displaced) else "")
              + ". Per layer: " + ", ".join(f"{layer} {int(g.size_reading_holds.sum())}/{len(g)}"
                                            for layer, g in premise[premise.layer != "net"].groupby("layer")) + ".")
    contrast = table[(table.init == "scaled") & table.resolved & (table.layer == "net")]
    if len(contrast):
        answer += (f" Scaled init (contrast): {int(contrast.size_reading_holds.sum())}/{len(contrast)} settings.")
    saturation = _saturation(table[table.resolved & (table.layer == "W1")])
    if saturation:
        answer += f" {saturation}."
    if len(unresolved):
        answer += (f" Not judged: {_settings(len(unresolved))} where ηλ/m > {DECAY_WINDOW:g}, with no point measured "
                   "inside epoch 1 before τ reaches 1.")
    runs = early_shares(w)
    mine = runs[(runs.init == "standard") & runs.resolved & (runs.layer == "net")]
    numbers = [headline("whole network's decay share over the first phase, standard init",
                        mine.groupby("seed").decay_share.mean(), "", network.decay_share, "decay_share")]
    for init in ("standard", "scaled"):
        w1 = runs[(runs.init == init) & runs.resolved & (runs.layer == "W1")]
        if "z_sat_frac" in w1 and len(w1):
            numbers.append(headline(f"W1 saturated units over the first phase, {init} init",
                                    w1.groupby("seed").z_sat_frac.mean(), "",
                                    table[(table.init == init) & table.resolved & (table.layer == "W1")].z_sat_frac,
                                    f"W1_saturated_{init}"))
    return {"status": _status(int(network.size_reading_holds.sum()), len(network)), "answer": answer,
            "headline": numbers}


def _saturation(w1: pd.DataFrame) -> str:
    """The book's mechanism in numbers: W1's saturated units and mean sigma' over the first phase, per init."""
    if "z_sat_frac" not in w1 or w1.empty:
        return ""
    parts = [f"{init} {np.mean([h['mean'] for h in g.z_sat_frac]):.2f} saturated, mean σ′ "
             f"{np.mean([h['mean'] for h in g.sigma_prime_mean]):.3f}"
             for init, g in w1.groupby("init") if init in ("standard", "scaled")]
    return "W1's hidden units over the first phase (the book's mechanism): " + "; ".join(parts) if parts else ""


def draw(w: pd.DataFrame, out_dir: Path, runs=None) -> None:
    """Each epoch's decay share of the change of |W|^2 against decay time (epoch 1 split at the points inside it
    where the first phase ends there), per layer and the whole network."""
    d = decaying(w)
    if d.empty:
        return _empty(out_dir, "dominance", "no run with lam > 0")
    d = with_network(_inside_intervals(d))
    d["τ = epochs · ηλ/m"] = d.epoch * d.eta * d.lam / d.m
    d = d[d["τ = epochs · ηλ/m"] <= 10 * DECAY_WINDOW].assign(**{"decay share": decay_share})
    g = _faceted(d, "τ = epochs · ηλ/m", "decay share")
    g.set(xscale="log", ylim=(0, 1.03))
    for ax in g.axes.flat:
        _reference(ax, horizontal=SHARE_THRESHOLD)
        _reference(ax, vertical=DECAY_WINDOW)
    extra = [(plt.Line2D([], [], color="tab:red", lw=0.9, ls=(0, (6, 2))), f"threshold {SHARE_THRESHOLD:g}"),
             (plt.Line2D([], [], color="tab:red", lw=0.9, ls=(0, (2, 2))), f"end of the first phase, τ = "
                                                                           f"{DECAY_WINDOW:g}")]
    count = judged_count(claim_dominance(w)["table"], "size_reading_holds")
    _finish(g, f"Claim 1: decay dominates the standard init's first phase in {count} settings (whole network)",
            extra)
    _save(g.figure, out_dir, "dominance")


def _inside_intervals(d: pd.DataFrame) -> pd.DataFrame:
    """d with epoch 1 split at the points inside it where the first phase ends there (eta*lam/m > DECAY_WINDOW):
    a row per interval between points (`epoch`: the interval's end, a fraction), epoch 1's row its last interval."""
    points = first_phase_points(d[d.eta * d.lam / d.m > DECAY_WINDOW])
    if points.empty:
        return d
    split = ((d.epoch == 1) & (d.eta * d.lam / d.m > DECAY_WINDOW) & d[sub_epoch_name("decay", SUB_EPOCH[0])].notna())
    ends = pd.concat([points, d[split]], ignore_index=True).sort_values([*RUN_KEYS, "layer", "epoch"])
    ends[list(PARTS)] = ends.groupby([*RUN_KEYS, "layer"])[list(PARTS)].diff().fillna(ends[list(PARTS)])
    return pd.concat([d[~split], ends], ignore_index=True)


def tables(claim: dict) -> list[tuple[str, list[dict], list[str]]]:
    """The report's tables of this claim: (introduction, rows, columns)."""
    return [("Per setting and layer (`net`: the whole network), over its first phase "
                                 "(decay time ≤ the window, its end `window_epochs` in epochs; `resolved`: "
                                 "measured); W1's "
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
             "0.9 and the end of the first phase (tau = 1). Where that ends inside epoch 1, the epoch is "
             "split at fractions 1/64 ... 1/2 of its steps."),
    measure=lambda w, runs: claim_dominance(w), judge=judge, draw=draw, tables=tables,
    thresholds={"decay_window": DECAY_WINDOW, "decay_share": SHARE_THRESHOLD})
