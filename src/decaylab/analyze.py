"""The four claims, tested on a study's runs. Every verdict is computed here from the runs.

Operational definitions:
- decay share: |decay| / (|decay| + |drift| + |noise|) of an epoch's summed change of |W|^2 (size reading);
  displacement ratio: |summed decay steps| / |summed gradient steps| (strong reading).
- first epochs: those ending within decay time tau = epochs x eta*lam/m <= DECAY_WINDOW (at least the first;
  where eta*lam/m > DECAY_WINDOW the window ends inside epoch 1, which per-epoch measurements do not resolve). A
  layer, or the whole network, is decay-dominated there when the mean decay share is >= SHARE_THRESHOLD (size)
  and the mean displacement ratio is > 1 (strong).
- decay rate: over the first epochs, the measured log shrink of a layer's (or the network's) weight norm
  against -eta*lam/m; it holds when the relative error (median over epochs, mean over seeds) is <= RATE_TOLERANCE.
- tail-off size: the whole network's weight RMS (n_w = all its weights) on its plateau, the median over the
  last PLATEAU_FRACTION of the epochs, counted only once settled (moving by less than SETTLED_LOG_CHANGE in log
  over them). Across network sizes its log-log slope against n_w gives the form (1/sqrt(n) holds when the
  slope's 95 % interval contains -1/2) and plateau x sqrt(n_w) the magnitude (it holds within a factor sqrt(10)
  of the claim's 1). Per layer, the tail-off epoch is the first whose shrink rate -ln(shrink) falls below half of
  eta*lam/m.
- did not learn (over-regularized): a setting whose final validation accuracy is below LEARNED_FRACTION of the
  study's best; left out of claims 3 and 4 and counted.
"""

import math
from collections import Counter

import numpy as np
import pandas as pd

from decaylab.glossary import CHANCE_FACTOR

DECAY_WINDOW = 1.0  # "the first epochs": until the decay time epochs x eta*lam/m reaches one e-fold
SHARE_THRESHOLD = 0.9
RATE_TOLERANCE = 0.10
PLATEAU_FRACTION = 0.2
SETTLED_LOG_CHANGE = 0.1  # a plateau has settled when the RMS moved by less than this (in log) over its epochs
LEARNED_FRACTION = 0.5  # a setting learned when its final validation accuracy is at least half the study's best
AROUND = math.sqrt(10)  # "a size around 1/sqrt(n)": its prefactor within half an order of magnitude of 1
CELL_KEYS = ["arm", "init", "lam", "eta", "hidden"]
RUN_KEYS = [*CELL_KEYS, "seed"]
RUN_INFO = ["n", "m", "epochs", "n_w", "sizes"]


def wide(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per run x epoch x layer, one column per metric, and n_in per weight layer (diverged and collapsed
    runs left out)."""
    ok = summary[~summary.diverged & ~summary.collapsed]
    out = ok.pivot_table(index=[*RUN_KEYS, *RUN_INFO, "epoch", "layer"], columns="metric", values="value",
                         aggfunc="first").reset_index()
    out.columns.name = None
    inputs = ok.drop_duplicates([*RUN_KEYS, "layer"]).set_index([*RUN_KEYS, "layer"]).n_in
    return out.join(inputs, on=[*RUN_KEYS, "layer"])


def decaying(w: pd.DataFrame, trained: bool = True) -> pd.DataFrame:
    """The weight layers of runs with lam > 0, from epoch 1 on (trained) or from the initial network."""
    return w[(w.lam > 0) & w.layer.str.startswith("W") & ((w.epoch >= 1) if trained else True)]


def _spread(values: pd.Series) -> dict:
    v = values.dropna().to_numpy(dtype=float)
    if len(v) == 0:
        return {"mean": None, "sd": None, "seeds": 0}
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "seeds": len(v)}


def did_not_learn(w: pd.DataFrame) -> pd.DataFrame:
    """The settings (CELL_KEYS) that did not learn, over-regularized ("lambda not too large"): their final validation
    accuracy, mean over seeds, is below LEARNED_FRACTION of the study's best setting's."""
    net = w[w.layer == "net"]
    if "acc_validation" not in net or net.acc_validation.isna().all():
        return pd.DataFrame(columns=[*CELL_KEYS, "acc_validation"])
    net = net.dropna(subset=["acc_validation"])
    final = net[net.epoch == net.groupby(RUN_KEYS).epoch.transform("max")]
    cells = final.groupby(CELL_KEYS, as_index=False).acc_validation.mean()
    return cells[cells.acc_validation < LEARNED_FRACTION * cells.acc_validation.max()]


def learned(w: pd.DataFrame) -> pd.DataFrame:
    """w without the settings that did not learn."""
    out = did_not_learn(w)[CELL_KEYS].assign(_out=True)
    return w[w.merge(out, on=CELL_KEYS, how="left")._out.isna().to_numpy()]


def decay_share(w: pd.DataFrame) -> pd.Series:
    """|decay| / (|decay| + |drift| + |noise|): the decay term's share of each epoch's change of |W|^2."""
    return w.decay.abs() / (w.decay.abs() + w.drift.abs() + w.noise.abs())


def window_end(d: pd.DataFrame) -> pd.Series:
    """The last epoch of "the first epochs": those that end within decay time tau = epochs x eta*lam/m <=
    DECAY_WINDOW (one e-fold of pure decay), at least the first."""
    return np.maximum(1, np.floor(DECAY_WINDOW / (d.eta * d.lam / d.m) + 1e-9)).astype(int)


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


def _network_shrink(w: pd.DataFrame) -> pd.DataFrame:
    """The whole network's per-epoch shrink RMS_e / RMS_(e-1) (runs with lam > 0, epochs from 1)."""
    net = w[(w.lam > 0) & (w.layer == "net")].sort_values("epoch")
    net = net.assign(shrink=net.rms / net.groupby([*RUN_KEYS, "n", "m"]).rms.shift())
    return net[net.epoch >= 1]


def claim_decay_rate(w: pd.DataFrame) -> dict:
    """Claim 2: over the first epochs (decay time <= DECAY_WINDOW, chosen before any measurement is looked at),
    each layer's and the whole network's per-epoch log-shrink against -eta*lam/m; the exact factor
    (1 - eta*lam/n)^ceil(n/m) beside it, and the weights of always-zero pixels as the direct test of that factor."""
    d = decaying(w)
    if d.empty and _network_shrink(w).empty:
        return {"details": "not testable: no run with lam > 0", "table": []}
    control = None
    if "shrink_dead" in d and "rms_dead" in d:
        # weights below 1e-15 lose precision in float32 squares: those epochs are left out
        dead = d[(d.layer == "W1") & (d.rms_dead > 1e-15)].dropna(subset=["shrink_dead"])
        if len(dead):
            exact = np.ceil(dead.n / dead.m) * np.log1p(-dead.eta * dead.lam / dead.n)
            control = float((np.log(dead.shrink_dead) - exact).abs().max())
    d = pd.concat([d, _network_shrink(w)], ignore_index=True)
    d = d[d.epoch <= window_end(d)]
    predicted = -d.eta * d.lam / d.m
    d = d.assign(error=(np.log(d["shrink"]) / predicted - 1).abs())
    per_run = d.groupby([*RUN_KEYS, "m", "n", "layer"], as_index=False).error.median()
    rows = []
    for key, g in per_run.groupby([*CELL_KEYS, "m", "n", "layer"]):
        cell = dict(zip([*CELL_KEYS, "m", "n", "layer"], key))
        tau, small = cell["eta"] * cell["lam"] / cell["m"], cell["eta"] * cell["lam"] / cell["n"]
        exact = math.ceil(cell["n"] / cell["m"]) * math.log1p(-small) if small < 1 else -math.inf
        error = interval(g.error)
        rows.append({**cell, "eta_lam_over_m": tau, "eta_lam_over_n": small, "lam_over_n": cell["lam"] / cell["n"],
                     "window_epochs": int(max(1, math.floor(DECAY_WINDOW / tau + 1e-9))),
                     "resolved": tau <= DECAY_WINDOW, "rel_error": error,
                     "exp_vs_exact_rel_gap": abs(exact / -tau - 1), "holds": error["mean"] <= RATE_TOLERANCE})
    details = (f"Over the first epochs (decay time ≤ {DECAY_WINDOW:g}): the per-epoch log-shrink's relative error "
               "against -ηλ/m, median over the window's epochs, mean over seeds; it holds within "
               f"{RATE_TOLERANCE:.0%}.")
    if control is not None:
        details += (f" Control: weights of always-zero pixels shrink by (1 - ηλ/n)^ceil(n/m) per epoch to within "
                    f"{control:.1e} in log.")
    return {"details": details, "dead_pixel_max_log_error": control, "table": rows,
            "runs": per_run.to_dict("records")}


def tail_off(w: pd.DataFrame) -> pd.DataFrame:
    """Per run and weight layer: tail-off epoch and RMS there, plateau RMS and its ratio to 3 hypotheses."""
    w = decaying(w, trained=False).sort_values("epoch")
    rows = []
    for key, g in w.groupby([*RUN_KEYS, *RUN_INFO, "layer", "n_in"]):
        info = dict(zip([*RUN_KEYS, *RUN_INFO, "layer"], key))
        n_in = int(key[-1])
        trained = g[g.epoch >= 1]
        rate = -np.log(trained["shrink"].to_numpy())
        predicted = info["eta"] * info["lam"] / info["m"]
        slow = np.nonzero(rate < predicted / 2)[0]
        tail_epoch = int(trained.epoch.iloc[slow[0]]) if len(slow) else None
        last = max(3, math.ceil(PLATEAU_FRACTION * info["epochs"]))
        plateau = float(g.rms.iloc[-last:].median())
        rows.append({**info, "n_in": n_in, "tail_epoch": tail_epoch,
                     "rms_at_tail": float(g[g.epoch == tail_epoch].rms.iloc[0]) if tail_epoch else None,
                     "plateau_rms": plateau,
                     "plateau_settled": bool(abs(math.log(g.rms.iloc[-1] / g.rms.iloc[-last])) < SETTLED_LOG_CHANGE),
                     "ratio_inv_sqrt_nw": plateau * math.sqrt(info["n_w"]),
                     "ratio_inv_nw": plateau * info["n_w"],
                     "ratio_inv_sqrt_nin": plateau * math.sqrt(n_in)})
    return pd.DataFrame(rows)


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def t95(df: int) -> float:
    """Two-sided 95% quantile of Student's t with df degrees of freedom."""
    from scipy.stats import t

    return float(t.ppf(0.975, df))


def per_seed_slopes(t: pd.DataFrame, x: str, group: list[str]) -> pd.DataFrame:
    """Log-log slope of plateau RMS against column x, one per group and seed where x takes two values or more."""
    rows = [{**dict(zip([*group, "seed"], key)), "slope": _slope(g[x].to_numpy(float), g.plateau_rms.to_numpy(float))}
            for key, g in t.groupby([*group, "seed"]) if g[x].nunique() >= 2]
    return pd.DataFrame(rows, columns=[*group, "seed", "slope"])


def one_hidden_layer(t: pd.DataFrame) -> pd.DataFrame:
    """The rows of networks with one hidden layer (sizes n_in-h-n_out), whose n_w the width alone sets."""
    return t[t.sizes.str.count("-") == 2]


def slope_over_seeds(t: pd.DataFrame, x: str, group: list[str]) -> list[dict]:
    """Log-log slope of plateau RMS against column x, fitted per seed, with a 95% t-interval over seeds."""
    out = []
    for key, g in per_seed_slopes(t, x, group).groupby(group):
        iv = interval(g.slope)
        out.append({**dict(zip(group, key)), "x": x, "slope": iv["mean"], "ci95": iv["ci95"], "seeds": iv["seeds"]})
    return out


HYPOTHESES = {"1/sqrt(n_w)": -0.5, "1/n_w": -1.0}


def _span(values, spec: str = ".2f") -> str:
    """'lo to hi' of some numbers (one number when they print the same)."""
    v = sorted(values)
    lo, hi = format(v[0], spec), format(v[-1], spec)
    return lo if lo == hi else f"{lo} to {hi}"


def network_plateaus(w: pd.DataFrame) -> pd.DataFrame:
    """Per run with lam > 0: the whole network's weight RMS (n = all its weights) on its plateau (the median over
    the last PLATEAU_FRACTION of the epochs), whether it has settled, and its prefactor plateau x sqrt(n_w)."""
    net = w[(w.lam > 0) & (w.layer == "net") & (w.epoch >= 1)].sort_values("epoch")
    rows = []
    for key, g in net.groupby([*RUN_KEYS, *RUN_INFO]):
        info = dict(zip([*RUN_KEYS, *RUN_INFO], key))
        last = max(3, math.ceil(PLATEAU_FRACTION * info["epochs"]))
        plateau = float(g.rms.iloc[-last:].median())
        rows.append({**info, "lam_over_n": info["lam"] / info["n"], "plateau_rms": plateau,
                     "plateau_settled": bool(abs(math.log(g.rms.iloc[-1] / g.rms.iloc[-last])) < SETTLED_LOG_CHANGE),
                     "prefactor": plateau * math.sqrt(info["n_w"])})
    return pd.DataFrame(rows, columns=[*RUN_KEYS, *RUN_INFO, "lam_over_n", "plateau_rms", "plateau_settled",
                                       "prefactor"])


NETWORK_GROUP = ["init", "lam", "eta", "n", "m", "epochs"]  # settings a tail-off law across widths holds fixed


def network_law(plateaus: pd.DataFrame) -> list[dict]:
    """Per group of settled plateaus over two network sizes or more: the log-log slope of plateau RMS against n_w
    (one fit per seed; mean and 95 % interval over seeds) and the prefactor (per seed the geometric mean of
    plateau x sqrt(n_w) over the sizes); the claim's form holds when the slope's interval contains -1/2, its
    magnitude when the prefactor is within a factor AROUND of 1. The line the figure draws is this fit."""
    out = []
    if plateaus.empty:
        return out
    for key, g in plateaus[plateaus.plateau_settled].groupby(NETWORK_GROUP):
        if g.n_w.nunique() < 2:
            continue
        fits = [(seed, np.polyfit(np.log(s.n_w.astype(float)), np.log(s.plateau_rms), 1))
                for seed, s in g.groupby("seed") if s.n_w.nunique() >= 2]
        slope = interval([f[1][0] for f in fits])
        prefactor = interval([math.exp(np.log(s.prefactor).mean()) for _, s in g.groupby("seed")])
        ci = slope["ci95"] or [slope["mean"]] * 2
        out.append({**dict(zip(NETWORK_GROUP, key)), "lam_over_n": key[1] / key[3],
                    "n_w": sorted(int(v) for v in g.n_w.unique()), "runs": len(g), "slope": slope,
                    "intercept": float(np.mean([f[1][1] for f in fits])), "prefactor": prefactor,
                    "form_holds": bool(ci[0] - 1e-9 <= -0.5 <= ci[1] + 1e-9),
                    "magnitude_holds": bool(1 / AROUND <= prefactor["mean"] <= AROUND)})
    return out


def prefactor_fit(plateaus: pd.DataFrame) -> dict | None:
    """How the measured prefactor plateau x sqrt(n_w) depends on the settings the heuristic leaves out: a least-
    squares fit of ln(prefactor) against ln(lam/n) and ln(eta), each where it varies, over settled standard-init
    runs; None when neither varies."""
    if plateaus.empty:
        return None
    d = plateaus[plateaus.plateau_settled & (plateaus.init == "standard")]
    terms = [c for c in ("lam_over_n", "eta") if d[c].nunique() > 1]
    if not terms:
        return None
    x = np.column_stack([np.ones(len(d)), *(np.log(d[c].astype(float)) for c in terms)])
    coef, *_ = np.linalg.lstsq(x, np.log(d.prefactor.astype(float)), rcond=None)
    return {"constant": float(math.exp(coef[0])), **{f"power_of_{c}": float(b) for c, b in zip(terms, coef[1:])},
            "runs": len(d)}


def claim_tail_off(w: pd.DataFrame) -> dict:
    """Claim 3: the decay tails off near 1/sqrt(n_w); against 1/n_w and 1/sqrt(n_in), across widths."""
    plateaus = network_plateaus(learned(w))
    network = {"network_plateaus": plateaus.to_dict("records"), "network_law": network_law(plateaus),
               "prefactor_fit": prefactor_fit(plateaus), "did_not_learn": did_not_learn(w).to_dict("records")}
    t = tail_off(w)
    if t.empty:
        return {"details": "per layer: not testable, no run with lam > 0", "table": [], **network}
    t["lam_over_n"] = t.lam / t.n
    ratios = {}
    for layer, g in t.groupby("layer"):
        ratios[layer] = {col: _spread(g[col]) for col in ("ratio_inv_sqrt_nw", "ratio_inv_nw", "ratio_inv_sqrt_nin")}
    settled = t[t.plateau_settled]  # slopes only from plateaus that have settled
    single = one_hidden_layer(settled)
    vs_width = slope_over_seeds(single, "n_w", ["layer", "init", "lam", "eta", "n"])
    vs_lam = slope_over_seeds(settled, "lam_over_n", ["layer", "init", "hidden", "eta", "n"])
    for row in vs_width:  # which hypothesis the slope supports (1/sqrt(n_in) predicts 0 for W1, -0.5 after)
        expected = {**HYPOTHESES, "1/sqrt(n_in)": 0.0 if row["layer"] == "W1" else -0.5}
        ci = row["ci95"]
        row["consistent_with"] = [h for h, s in expected.items()  # 1e-9: an interval of width 0 (noiseless fit)
                                  if ci and ci[0] - 1e-9 <= s <= ci[1] + 1e-9]
        row["nearest"] = min(expected, key=lambda h: abs(expected[h] - row["slope"]))
    reached = t.tail_epoch.notna().mean()
    parts = [f"tail-off reached in {reached:.0%} of run-layers, plateau settled (RMS within 10% over the last "
             f"{PLATEAU_FRACTION:.0%} of epochs) in {t.plateau_settled.mean():.0%}"]
    for layer, r in ratios.items():
        parts.append(f"{layer}: plateau RMS x sqrt(n_w) = {r['ratio_inv_sqrt_nw']['mean']:.2f} "
                     f"(sd {r['ratio_inv_sqrt_nw']['sd']:.2f}), x sqrt(n_in) = {r['ratio_inv_sqrt_nin']['mean']:.2f} "
                     f"(sd {r['ratio_inv_sqrt_nin']['sd']:.2f}), "
                     f"x n_w = {r['ratio_inv_nw']['mean']:.0f}")
    for layer in sorted({r["layer"] for r in vs_width}):
        rows = [r for r in vs_width if r["layer"] == layer]
        nearest = Counter(r["nearest"] for r in rows).most_common()
        covered = sum("1/sqrt(n_w)" in r["consistent_with"] for r in rows)
        parts.append(f"{layer}: slope vs n_w {_span(r['slope'] for r in rows)} in {len(rows)} groups, nearest "
                     + ", ".join(f"{h} in {k}" for h, k in nearest)
                     + f", 95% CI containing -1/2 in {covered}/{len(rows)}")
    for layer in sorted({r["layer"] for r in vs_lam}):
        slopes = [r["slope"] for r in vs_lam if r["layer"] == layer]
        parts.append(f"{layer}: slope vs lam/n {_span(slopes)} in {len(slopes)} groups")
    return {"details": "; ".join(parts) + ".", "ratios": ratios, "slopes_vs_n_w": vs_width,
            "slopes_vs_lam_over_n": vs_lam, "table": t.to_dict("records"), **network}


REFERENCE_INIT = "scaled"  # claim 4 sets every init against the book's new approach
SAME_SIZE = 0.10  # two inits have the same weight size when their RMS differ by at most 10 %


def _settles_at(ratio: pd.Series) -> int | None:
    """The first epoch from which |ratio - 1| <= SAME_SIZE holds to the end (None: never)."""
    outside = ratio[(ratio - 1).abs() > SAME_SIZE]
    if outside.empty:
        return int(ratio.index[0])
    later = ratio.index[ratio.index > outside.index[-1]]
    return int(later[0]) if len(later) else None


def claim_init(w: pd.DataFrame, runs: pd.DataFrame) -> dict:
    """Claim 4: every init against the scaled init N(0, 1/n_in): does L2 bring it to the same weight size and
    accuracy, and how fast? (The book's question is the standard init's; the others generalize it.)"""
    cell = ["arm", "lam", "eta", "hidden"]
    compared = runs.groupby(cell).init.transform(lambda inits: REFERENCE_INIT in set(inits) and inits.nunique() > 1)
    if not compared.any():
        return {"details": f"not testable: no cell run with the {REFERENCE_INIT} init and another", "table": []}
    rows = []
    for key, g in w[w.layer.str.startswith("W")].groupby([*cell, "layer", "n_in"]):
        arm, lam, eta, hidden, layer, n_in = key
        rms = g.groupby(["init", "epoch"]).rms.mean()
        inits = set(g.init)
        if REFERENCE_INIT not in inits:
            continue
        reference = rms[REFERENCE_INIT]
        for init in sorted(inits - {REFERENCE_INIT}):
            mine = rms[init]
            below = mine[mine <= 1 / math.sqrt(n_in)]
            rows.append({"arm": arm, "lam": lam, "eta": eta, "hidden": hidden, "layer": layer, "init": init,
                         "n_in": int(n_in), "target_rms": 1 / math.sqrt(n_in), "rms_start": float(mine.iloc[0]),
                         "rms_end": float(mine.iloc[-1]), "scaled_rms_start": float(reference.iloc[0]),
                         "scaled_rms_end": float(reference.iloc[-1]),
                         "end_ratio_to_scaled": float(mine.iloc[-1] / reference.iloc[-1]),
                         "epoch_within_10pct_of_scaled": _settles_at(mine / reference),
                         "epoch_reaches_inv_sqrt_n_in": int(below.index[0]) if len(below) else None})
    acc = []
    for key, g in w[w.layer == "net"].groupby(cell):
        if REFERENCE_INIT not in set(g.init):
            continue
        per = g.groupby(["init", "epoch"]).acc_validation.mean()
        ref = per[REFERENCE_INIT]
        for init in sorted(set(g.init) - {REFERENCE_INIT}):
            acc.append({**dict(zip(cell, key)), "init": init, "acc_epoch1": float(per[init][1]),
                        "acc_epoch1_scaled": float(ref[1]), "acc_final": float(per[init].iloc[-1]),
                        "acc_final_scaled": float(ref.iloc[-1])})
    parts = []
    for init in sorted({r["init"] for r in rows}):
        decayed = [r for r in rows if r["init"] == init and r["lam"] > 0]
        if not decayed:
            continue
        settled = [r["epoch_within_10pct_of_scaled"] for r in decayed if r["epoch_within_10pct_of_scaled"] is not None]
        reached = [r["epoch_reaches_inv_sqrt_n_in"] for r in decayed if r["epoch_reaches_inv_sqrt_n_in"] is not None]
        plain = [r["end_ratio_to_scaled"] for r in rows if r["init"] == init and r["lam"] == 0]
        part = (f"{init} init with lam > 0: RMS within {SAME_SIZE:.0%} of the {REFERENCE_INIT} init's to the end in "
                f"{len(settled)}/{len(decayed)} (cell, layer) pairs"
                + (f" (from epoch {_span(settled, 'd')})" if settled else "")
                + f", {init}/{REFERENCE_INIT} RMS at the end {_span(r['end_ratio_to_scaled'] for r in decayed)}"
                + (f" (without L2: {_span(plain)})" if plain else "")
                + f"; RMS at or below 1/sqrt(n_in) in {len(reached)}/{len(decayed)}"
                + (f" (at epoch {_span(reached, 'd')})" if reached else ""))
        mine = [a for a in acc if a["init"] == init and a["lam"] > 0]
        if mine:
            first = sum(a["acc_epoch1_scaled"] > a["acc_epoch1"] for a in mine)
            last = sum(a["acc_final_scaled"] > a["acc_final"] for a in mine)
            part += (f"; validation accuracy: the {REFERENCE_INIT} init is ahead after epoch 1 in {first}/{len(mine)} "
                     f"cells and at the end in {last}/{len(mine)} (final gap "
                     f"{_span((a['acc_final_scaled'] - a['acc_final'] for a in mine), '+.3f')})")
        parts.append(part)
    return {"details": "; ".join(parts) + "." if parts else "not testable: no cell with lam > 0 and two inits",
            "weights": rows, "accuracy": acc}


def interval(values) -> dict:
    """Mean and 95 % t-interval over seeds (one value per seed); no interval from a single seed."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if len(v) == 0:
        return {"mean": None, "ci95": None, "seeds": 0}
    if len(v) == 1:
        return {"mean": float(v[0]), "ci95": None, "seeds": 1}
    half = t95(len(v) - 1) * float(v.std(ddof=1)) / math.sqrt(len(v))
    return {"mean": float(v.mean()), "ci95": [float(v.mean() - half), float(v.mean() + half)], "seeds": len(v)}


def _book_cells(runs: pd.DataFrame) -> list[dict]:
    """The cells that carry the book's figure, from the runs' records (the first run of each cell speaks)."""
    out = []
    for _, first in runs[runs.book_accuracy.notna()].drop_duplicates(CELL_KEYS).iterrows():
        mine = runs[(runs[CELL_KEYS] == first[CELL_KEYS]).all(axis=1)]
        size = {key: None if pd.isna(first[key]) else int(first[key])
                for key in ("train_size", "validation_size", "test_size")}
        book = {key: first[f"book_{key}"] for key in ("accuracy", "note", "split") if pd.notna(first[f"book_{key}"])}
        out.append({"study": first.study, "arm": first.arm, "dataset": first.dataset, "init": first.init,
                    "lam": float(first.lam), "eta": float(first.eta), "hidden": first.hidden, "m": int(first.m),
                    "epochs": int(first.epochs), **size, "seeds": sorted(int(s) for s in mine.seed),
                    "book": book, "n": int(first.n)})
    return out


Z95 = 1.959963984540054  # the normal distribution's two-sided 95 % quantile, for the binomial sampling error


def against_book(ours: dict, book: float, images: int) -> dict:
    """Our accuracy (mean and 95 % interval over seeds) against the book's one figure, with the evaluation split's
    own sampling error: the book's accuracy p measured on N images has a binomial standard error sqrt(p(1-p)/N).
    The difference's 95 % half-width combines both in quadrature; within it the reading is "agrees", else
    "above" or "below"."""
    sampling = math.sqrt(book * (1 - book) / images)
    seeds = 0.0 if ours["ci95"] is None else (ours["ci95"][1] - ours["ci95"][0]) / 2
    half = math.hypot(seeds, Z95 * sampling)
    difference = ours["mean"] - book
    reading = "agrees" if abs(difference) <= half else ("above" if difference > 0 else "below")
    return {"difference": difference, "half_width": half, "sampling_error": sampling, "images": images,
            "reading": reading}


def _split_images(cell: dict, split: str) -> int:
    from decaylab.data import SOURCES

    given = cell[f"{split}_size"]
    return given or SOURCES[cell["dataset"]].sizes[("train", "validation", "test").index(split)]


def book_table(runs: pd.DataFrame, claims: dict) -> list[dict]:
    """One row per preset that carries the book's figure: conditions, and our accuracy at the book's epoch (the
    last) against the book's, sampling error included; the peak over epochs beside it, labelled."""
    dominance = {(r["arm"], r["init"], r["lam"], r["eta"], r["hidden"], r["layer"]): r
                 for r in claims["1_early_decay_dominance"].get("table", [])}
    tails = pd.DataFrame(claims["3_tail_off"].get("table", []))
    rows = []
    for cell in _book_cells(runs):
        book = cell["book"]
        key = (cell["arm"], cell["init"], cell["lam"], cell["eta"], cell["hidden"])
        mine = runs[(runs.arm == cell["arm"]) & (runs.init == cell["init"]) & (runs.lam == cell["lam"])
                    & (runs.eta == cell["eta"]) & (runs.hidden == cell["hidden"]) & ~runs.diverged & ~runs.collapsed]
        split = book.get("split", "test")
        final = interval(mine[f"acc_{split}"])
        row = {**cell, "eta_lam_over_n": cell["eta"] * cell["lam"] / cell["n"],
               "exp_minus_eta_lam_over_m": math.exp(-cell["eta"] * cell["lam"] / cell["m"]),
               "decay_dominated_early": {layer: dominance[(*key, layer)]["size_reading_holds"]
                                         for layer in ("W1", "W2") if (*key, layer) in dominance},
               "split": split, "final_accuracy_interval": final,
               "peak_accuracy_interval": interval(mine[f"peak_acc_{split}"]), "book_accuracy": book.get("accuracy"),
               "book_note": book.get("note"),
               "versus_book": against_book(final, book["accuracy"], _split_images(cell, split))
               if final["seeds"] else None}
        if not tails.empty and cell["lam"] > 0:
            mt = tails[(tails.arm == cell["arm"]) & (tails.init == cell["init"]) & (tails.hidden == cell["hidden"])
                       & (tails.lam == cell["lam"]) & (tails.eta == cell["eta"])]
            row["tail_off_epoch"] = {layer: _spread(g.tail_epoch.astype(float)) for layer, g in mt.groupby("layer")}
        rows.append(row)
    return rows


def init_curves(w: pd.DataFrame, runs: pd.DataFrame) -> list[dict]:
    """In a study that carries the book's figures: validation accuracy epoch by epoch (mean and 95 % interval over
    seeds) of every arm run with both the standard and the scaled init, to set against the book's plots."""
    if runs.book_note.isna().all():
        return []
    net = w[(w.layer == "net") & (w.epoch >= 1)]
    paired = [arm for arm, g in net.groupby("arm") if {"standard", REFERENCE_INIT} <= set(g.init)]
    return [{"arm": arm, "hidden": hidden, "lam": float(lam), "eta": float(eta), "init": init, "epoch": int(epoch),
             "acc_validation": interval(g.acc_validation)}
            for (arm, hidden, lam, eta, init, epoch), g in net[net.arm.isin(paired)].groupby(
                ["arm", "hidden", "lam", "eta", "init", "epoch"])]


def analyze(summary: pd.DataFrame, runs: pd.DataFrame, study: str) -> dict:
    """claims.json: each claim's verdict (status, answer, headline numbers; see verdicts) over its tables."""
    from decaylab import verdicts

    w = wide(summary)
    claims = {"1_early_decay_dominance": claim_dominance(w), "2_decay_rate": claim_decay_rate(w),
              "3_tail_off": claim_tail_off(w), "4_init_comparison": claim_init(w, runs)}
    judged = {"1_early_decay_dominance": verdicts.dominance(claims["1_early_decay_dominance"], w),
              "2_decay_rate": verdicts.decay_rate(claims["2_decay_rate"], claims["1_early_decay_dominance"]),
              "3_tail_off": verdicts.tail_off(claims["3_tail_off"]),
              "4_init_comparison": verdicts.init_comparison(w)}
    claims = {key: {**judged[key], **claim} for key, claim in claims.items()}
    claims["4_init_comparison"]["lam_contrasts"] = verdicts.lam_contrasts(runs)
    diverged = runs[runs.diverged][RUN_KEYS + ["run_dir"]].to_dict("records")
    collapsed = runs[runs.collapsed][RUN_KEYS + ["run_dir"]].to_dict("records")
    return {
        "study": study, "datasets": sorted(runs.dataset.unique()), "runs": len(runs),
        "thresholds": {"decay_window": DECAY_WINDOW, "decay_share": SHARE_THRESHOLD,
                       "rate_tolerance": RATE_TOLERANCE,
                       "plateau_fraction": PLATEAU_FRACTION, "same_size": SAME_SIZE,
                       "same_accuracy": verdicts.SAME_ACCURACY, "chance_factor": CHANCE_FACTOR,
                       "settled_log_change": SETTLED_LOG_CHANGE, "around": AROUND,
                       "learned_fraction": LEARNED_FRACTION},
        "claims": claims,
        "book_examples": book_table(runs, claims),
        "book_init_curves": init_curves(w, runs),
        "diverged_runs": diverged,
        "collapsed_runs": collapsed,
    }
