"""Claim 3, tail-off size: "supposing λ is not too large, the weight decay will tail off when the weights are down
to a size around 1/√n, where n is the total number of weights in the network".

Measured on the whole network's weights (n_w = all of them): the RMS on its plateau (the median over the last
PLATEAU_FRACTION of the epochs, PLATEAU_EPOCHS at least), counted only once settled (moving by less than
SETTLED_LOG_CHANGE in log there; a run shorter than its window has not).
Across network sizes the log-log slope against n_w gives the form (1/sqrt(n) holds when the slope's 95 % interval
contains -1/2) and plateau x sqrt(n_w) the magnitude (it holds within a factor AROUND of the claim's 1), judged
apart, on the standard init (the claim's premise). The prefactor's dependence on lam/n and eta is fitted. Per
layer (tail-off epoch, plateau, slopes) as secondary evidence. Settings that did not learn are left out, counted.
"""

import math
from collections import Counter
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from decaylab.analyze import RUN_INFO, RUN_KEYS, _span, _spread, decaying, did_not_learn, interval, learned
from decaylab.claims.verdict import Claim, _ci, _status, headline, not_testable
from decaylab.figures import (
    INIT_PALETTE,
    _claim_line,
    _empty,
    _inits,
    _lam,
    _legend_outside,
    _log_ticks,
    _save,
    _setting,
)

PLATEAU_FRACTION = 0.2
PLATEAU_EPOCHS = 3  # the fewest epochs a plateau is measured over


SETTLED_LOG_CHANGE = 0.1  # a plateau has settled when the RMS moved by less than this (in log) over its epochs


AROUND = math.sqrt(10)  # "a size around 1/sqrt(n)": its prefactor within half an order of magnitude of 1


def plateau(rms: pd.Series, epochs: int) -> tuple[float, bool]:
    """A run's plateau from its trained epochs' RMS: the median over its last PLATEAU_FRACTION x epochs
    (PLATEAU_EPOCHS at least), and whether it settled there; a run shorter than that has not, nor one whose weights
    reached zero there (collapsed)."""
    last = max(PLATEAU_EPOCHS, math.ceil(PLATEAU_FRACTION * epochs))
    window = rms.iloc[-last:]
    first, end = window.iloc[0], window.iloc[-1]
    settled = len(window) == last and first > 0 and end > 0 and abs(math.log(end / first)) < SETTLED_LOG_CHANGE
    return float(window.median()), bool(settled)


def layer_plateaus(w: pd.DataFrame) -> pd.DataFrame:
    """Per run and weight layer: tail-off epoch and RMS there, plateau RMS and its ratio to 3 hypotheses."""
    w = decaying(w).sort_values("epoch")
    rows = []
    for key, g in w.groupby([*RUN_KEYS, *RUN_INFO, "layer", "n_in"]):
        info = dict(zip([*RUN_KEYS, *RUN_INFO, "layer"], key))
        n_in = int(key[-1])
        rate = -np.log(g["shrink"].to_numpy())
        predicted = info["eta"] * info["lam"] / info["m"]
        slow = np.nonzero(rate < predicted / 2)[0]
        tail_epoch = int(g.epoch.iloc[slow[0]]) if len(slow) else None
        rms, settled = plateau(g.rms, info["epochs"])
        rows.append({**info, "n_in": n_in, "tail_epoch": tail_epoch,
                     "rms_at_tail": float(g.rms.iloc[slow[0]]) if tail_epoch else None,
                     "plateau_rms": rms, "plateau_settled": settled,
                     "ratio_inv_sqrt_nw": rms * math.sqrt(info["n_w"]),
                     "ratio_inv_nw": rms * info["n_w"],
                     "ratio_inv_sqrt_nin": rms * math.sqrt(n_in)})
    return pd.DataFrame(rows)


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


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


def network_plateaus(w: pd.DataFrame) -> pd.DataFrame:
    """Per run with lam > 0: the whole network's weight RMS (n = all its weights) on its plateau (the median over
    the last PLATEAU_FRACTION of the epochs), whether it has settled, and its prefactor plateau x sqrt(n_w)."""
    net = w[(w.lam > 0) & (w.layer == "net") & (w.epoch >= 1)].sort_values("epoch")
    rows = []
    for key, g in net.groupby([*RUN_KEYS, *RUN_INFO]):
        info = dict(zip([*RUN_KEYS, *RUN_INFO], key))
        rms, settled = plateau(g.rms, info["epochs"])
        rows.append({**info, "lam_over_n": info["lam"] / info["n"], "plateau_rms": rms, "plateau_settled": settled,
                     "prefactor": rms * math.sqrt(info["n_w"])})
    return pd.DataFrame(rows, columns=[*RUN_KEYS, *RUN_INFO, "lam_over_n", "plateau_rms", "plateau_settled",
                                       "prefactor"])


NETWORK_GROUP = ["init", "lam", "eta", "n", "m", "epochs"]  # settings a tail-off law across widths holds fixed


def seed_fits(group: pd.DataFrame) -> list[tuple[int, float, float]]:
    """One log-log fit of plateau RMS against n_w per seed of a group that has two network sizes or more:
    (seed, slope, intercept)."""
    return [(seed, *np.polyfit(np.log(s.n_w.astype(float)), np.log(s.plateau_rms), 1))
            for seed, s in group.groupby("seed") if s.n_w.nunique() >= 2]


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
        fits = seed_fits(g)
        slope = interval([f[1] for f in fits])
        prefactor = interval([math.exp(np.log(s.prefactor).mean()) for _, s in g.groupby("seed")])
        ci = slope["ci95"] or [slope["mean"]] * 2
        out.append({**dict(zip(NETWORK_GROUP, key)), "lam_over_n": key[1] / key[3],
                    "n_w": sorted(int(v) for v in g.n_w.unique()), "runs": len(g), "slope": slope,
                    "intercept": float(np.mean([f[2] for f in fits])), "prefactor": prefactor,
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
    t = layer_plateaus(w)
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


def judge(claim: dict, w: pd.DataFrame | None = None, measured: dict | None = None) -> dict:
    """Claim 3 on the whole network's weights (n = all of them), for the claim's premise, the standard init: the
    form (the slope of plateau RMS against n_w contains -1/2) and the magnitude (the prefactor plateau x sqrt(n_w)
    within a factor AROUND of the claim's 1), judged separately; held where both hold. Per layer and the scaled
    init are secondary evidence."""
    plateaus = pd.DataFrame(claim.get("network_plateaus", []))
    if plateaus.empty:
        return not_testable("no run with lam > 0")
    if plateaus.n_w.nunique() < 2:
        return not_testable(f"one network size (n_w = {plateaus.n_w.iloc[0]:,}) per setting; the tail-off law needs "
                            "several")
    law = pd.DataFrame(claim["network_law"])
    premise = law[law.init == "standard"] if len(law) else law
    unsettled = int((~plateaus.plateau_settled).sum())
    if premise.empty:
        return not_testable("no setting of the standard init (the claim's premise) with settled plateaus at two "
                            f"network sizes or more ({unsettled} of {len(plateaus)} runs had not settled)")
    settled = plateaus[plateaus.plateau_settled & (plateaus.init == "standard")]
    per_seed = [(seed, g) for seed, g in settled.groupby("seed")]
    by_seed = {}  # each seed's slopes, one per setting (the fits of network_law)
    for _, group in settled.groupby(NETWORK_GROUP):
        for seed, slope, _ in seed_fits(group):
            by_seed.setdefault(seed, []).append(slope)
    slopes = [np.mean(by_seed[seed]) for seed in sorted(by_seed)]
    numbers = [headline("network slope of plateau RMS against n_w (log-log, standard init)", slopes, "",
                        premise.slope, "slope"),
               headline("network prefactor: plateau RMS x sqrt(n_w) (the claim's: 1)",
                        [float(np.exp(np.log(g.prefactor).mean())) for _, g in per_seed], "", premise.prefactor,
                        "prefactor")]
    form, magnitude = int(premise.form_holds.sum()), int(premise.magnitude_holds.sum())
    held = int((premise.form_holds & premise.magnitude_holds).sum())
    answer = (f"Whole network, standard init: the claim holds (form and magnitude) in {held}/{len(premise)} "
              f"settings. Form: plateau RMS ∝ n_w^{_ci(numbers[0])}, the slope's interval containing -1/2 in "
              f"{form}/{len(premise)}; magnitude: plateau x sqrt(n_w) = {_ci(numbers[1], '.3g')} against the "
              f"claim's 1, within a factor {AROUND:.2g} in {magnitude}/{len(premise)}")
    if fit := claim.get("prefactor_fit"):
        answer += "; the prefactor scales as " + " ".join(
            f"({name})^{fit[f'power_of_{term}']:.2f}" for term, name in (("lam_over_n", "λ/n"), ("eta", "η"))
            if f"power_of_{term}" in fit)
    answer += "."
    secondary = _per_layer_slopes(claim)
    if secondary:
        answer += f" Per layer (one hidden layer): {secondary}."
    if unsettled:
        answer += f" Left out: {unsettled} of {len(plateaus)} runs whose plateau had not settled."
    if skipped := len(claim.get("did_not_learn", [])):
        answer += f" Over-regularized, left out: {skipped} cells (init and setting) that did not learn."
    return {"status": _status(held, len(premise)), "answer": answer, "headline": numbers}


def _per_layer_slopes(claim: dict) -> str:
    """Each layer's slope against n_w (per seed, averaged over groups), standard init."""
    table = pd.DataFrame(claim.get("table", []))
    if table.empty:
        return ""
    per_seed = _per_seed_slopes_vs_n_w(table[table.plateau_settled & (table.init == "standard")])
    return ", ".join(f"{layer} {_ci(interval(g.slope))}" for layer, g in per_seed.groupby("layer"))


def _per_seed_slopes_vs_n_w(table: pd.DataFrame) -> pd.DataFrame:
    """Per layer and seed: the slope of log plateau RMS against log n_w, averaged over the groups that vary n_w
    (networks of one hidden layer)."""
    slopes = per_seed_slopes(one_hidden_layer(table), "n_w", ["layer", "init", "lam", "eta", "n"])
    return slopes.groupby(["layer", "seed"], as_index=False).slope.mean()


def draw(w: pd.DataFrame, out_dir: Path, runs=None) -> None:
    """The whole network's weight RMS x sqrt(n_w) over training (1: the claim's size), and, where the study has
    several network sizes, the settled plateau against n_w with the verdict's own fit beside the claim's line."""
    net = w[(w.lam > 0) & (w.layer == "net") & (w.epoch >= 1)].copy()
    if net.empty:
        return _empty(out_dir, "tail_off", "no run with lam > 0")
    plateaus = network_plateaus(w)
    law = pd.DataFrame(network_law(plateaus))
    net["RMS x sqrt(n_w)"] = net.rms * np.sqrt(net.n_w.astype(float))
    net, order, _ = _lam(net)
    net["setting"] = _setting(net).where(_setting(net) != "", "all")
    fig, axes = plt.subplots(1, 2 if len(law) else 1, figsize=(11 if len(law) else 5.6, 4), squeeze=False)
    ax = axes[0][0]
    means = net.groupby(["init", "λ", "setting", "hidden", "epoch"], as_index=False)["RMS x sqrt(n_w)"].mean()
    means["line"] = means.setting + " " + means.hidden
    sns.lineplot(means, x="epoch", y="RMS x sqrt(n_w)", hue="init", hue_order=_inits(means), palette=INIT_PALETTE,
                 style="λ", style_order=order, units="line", estimator=None, lw=1, ax=ax)
    _claim_line(ax, [means.epoch.min(), means.epoch.max()], [1, 1], "the claim: RMS = 1/sqrt(n_w)")
    ax.set(yscale="log", xscale="log" if means.epoch.max() > 60 else "linear",
           title="Whole network during training (mean over seeds)")
    _log_ticks(ax.yaxis)
    _legend_outside(ax)
    title = "Claim 3: the network's weights during training"
    if len(law):
        ax = axes[0][1]
        settled = plateaus[plateaus.plateau_settled].assign(**{"λ/n": lambda d: d.lam_over_n.map(lambda v: f"{v:.3g}")})
        sns.scatterplot(settled, x="n_w", y="plateau_rms", hue="init", hue_order=_inits(settled),
                        palette=INIT_PALETTE, style="λ/n", s=30, ax=ax)
        xs = np.geomspace(settled.n_w.min() / 1.3, settled.n_w.max() * 1.3, 20)
        styles = dict(zip(sorted(law.lam_over_n.unique()), ("-", "--", ":", "-.")))
        for _, g in law.iterrows():
            ax.plot(xs, np.exp(g.intercept) * xs ** g.slope["mean"], color=INIT_PALETTE[g.init], lw=1,
                    ls=styles.get(g.lam_over_n, "-"),
                    label=f"fit, {g.init}, λ/n={g.lam_over_n:.3g}: slope {g.slope['mean']:+.2f}, "
                          f"prefactor {g.prefactor['mean']:.3g}")
        _claim_line(ax, xs, xs**-0.5, "the claim: 1/sqrt(n_w), prefactor 1")
        ax.set(xscale="log", yscale="log", xlabel="n_w (all weights in the network)", ylabel="plateau weight RMS",
               title="Settled plateau against network size")
        _log_ticks(ax.yaxis)
        _legend_outside(ax)
        premise = law[law.init == "standard"]
        if len(premise):  # ranges over the settings, never an average across what the claim distinguishes
            slopes = sorted(h["mean"] for h in premise.slope)
            factors = sorted(h["mean"] for h in premise.prefactor)
            title = (f"Claim 3: the standard init's network plateau scales as n_w^{_span(slopes, '.2f')}, "
                     f"at {_span(factors, '.2g')} x the claim's 1/sqrt(n_w)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, out_dir, "tail_off")


def _tail_rows(claim: dict) -> list[dict]:
    table = pd.DataFrame(claim.get("table", []))
    if table.empty:
        return []
    keys = ["layer", "arm", "init", "lam", "eta", "hidden"]
    agg = table.groupby(keys).agg(
        n_w=("n_w", "first"), n_in=("n_in", "first"), tail_epoch=("tail_epoch", "mean"),
        rms_at_tail=("rms_at_tail", "mean"), plateau_rms=("plateau_rms", "mean"),
        ratio_inv_sqrt_nw=("ratio_inv_sqrt_nw", "mean"), ratio_inv_nw=("ratio_inv_nw", "mean"),
        ratio_inv_sqrt_nin=("ratio_inv_sqrt_nin", "mean")).reset_index()
    return agg.to_dict("records")


def _network_rows(claim: dict) -> list[dict]:
    """The whole network's plateau per setting and width: mean and 95 % interval over seeds, settled runs counted."""
    table = pd.DataFrame(claim.get("network_plateaus", []))
    if table.empty:
        return []
    keys = ["init", "lam", "eta", "n", "hidden", "n_w"]
    return [{**dict(zip(keys, key)), "plateau_rms": interval(g.plateau_rms),
             "prefactor": interval(g.prefactor), "settled": f"{int(g.plateau_settled.sum())}/{len(g)}"}
            for key, g in table.groupby(keys)]


def _prefactor_fit_text(fit: dict | None) -> str:
    intro = "The whole network's plateau per setting and width (mean and 95 % interval over seeds)"
    if not fit:
        return intro + ":"
    powers = " x ".join(f"({name})^{fit[f'power_of_{term}']:.3g}"
                        for term, name in (("lam_over_n", "λ/n"), ("eta", "η")) if f"power_of_{term}" in fit)
    return (f"{intro}. The prefactor's dependence on what the heuristic leaves out, fitted over {fit['runs']} settled "
            f"standard-init runs: prefactor ≈ {fit['constant']:.3g} x {powers}:")


def tables(claim: dict) -> list[tuple[str, list[dict], list[str]]]:
    """The report's tables of this claim: (introduction, rows, columns)."""
    return [
        ("The whole network (n = all its weights), per setting: the slope of the plateau RMS against n_w "
         "(log-log, one fit per seed; mean and 95 % interval), the prefactor plateau x sqrt(n_w) (geometric "
         "mean over the widths, per seed); `form_holds`: the slope's interval contains -1/2; `magnitude_holds`: "
         f"the prefactor is within a factor {AROUND:.2g} of the claim's 1. Settled plateaus only (RMS "
         f"moving by less than {SETTLED_LOG_CHANGE:g} in log over the last {PLATEAU_FRACTION:.0%} "
         "of the epochs):", claim.get("network_law", []),
         ["init", "lam", "eta", "n", "lam_over_n", "n_w", "runs", "slope", "prefactor", "form_holds",
          "magnitude_holds"]),
        (_prefactor_fit_text(claim.get("prefactor_fit")), _network_rows(claim),
         ["init", "lam", "eta", "n", "hidden", "n_w", "plateau_rms", "prefactor", "settled"]),
        ("Per layer, secondary evidence. Log-log slope of the plateau RMS against n_w (one hidden layer), per "
         "seed; mean and 95% interval; `consistent_with`: the scalings whose slope lies in the interval "
         "(1/sqrt(n_in) predicts 0 for W1, -1/2 after):", claim.get("slopes_vs_n_w", []),
         ["layer", "init", "lam", "eta", "n", "slope", "ci95", "seeds", "nearest", "consistent_with"]),
        ("Against lam/n, which the heuristic leaves out:", claim.get("slopes_vs_lam_over_n", []),
         ["layer", "init", "hidden", "eta", "n", "slope", "ci95", "seeds"]),
        ("Per layer and cell (means over seeds):", _tail_rows(claim),
         ["layer", "arm", "init", "lam", "eta", "hidden", "n_w", "n_in", "tail_epoch", "rms_at_tail", "plateau_rms",
          "ratio_inv_sqrt_nw", "ratio_inv_nw", "ratio_inv_sqrt_nin"])]


CLAIM = Claim(
    key="3_tail_off", title="Tail-off size",
    statement=("supposing λ is not too large, the weight decay will tail off when the weights are down to a size "
               "around 1/√n, where n is the total number of weights in the network"),
    figure="tail_off",
    caption=("Claim 3, tail-off size, on the whole network (n_w = all its weights): left, its weight RMS x "
                "sqrt(n_w) over training, mean over seeds, colour: init, line style: lambda (1 = the claim's size); "
                "right, where the study has several network sizes, each settled run's plateau RMS against n_w "
                "(log-log) with the verdict's own fit per setting. Grey band: the claim, 1/sqrt(n_w)."),
    measure=lambda w, runs: claim_tail_off(w), judge=judge, draw=draw, tables=tables,
    thresholds={"plateau_fraction": PLATEAU_FRACTION, "plateau_epochs": PLATEAU_EPOCHS,
                "settled_log_change": SETTLED_LOG_CHANGE, "around": AROUND})
