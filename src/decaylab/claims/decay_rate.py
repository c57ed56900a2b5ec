"""Claim 2, decay rate: "provided ηλ ≪ n the weights will decay by a factor of exp(−ηλ/m) per epoch".

Measured on the standard init's whole network (per layer beside it) over the same first epochs as claim 1, chosen
by decay time before any measurement is looked at: the per-epoch log-shrink against -eta*lam/m holds within
RATE_TOLERANCE (relative error, median over the window's epochs, mean over seeds). The exact factor
(1 - eta*lam/n)^ceil(n/m) is printed beside it, and the weights of always-zero pixels, which no gradient moves,
test it directly. The condition that separates holding settings is looked for in eta*lam/n, the claim's own.
The claim concerns the weights alone, so runs that learned nothing (collapsed) count too: decay shrinks them all
the same, and where eta*lam/n is large they are the rule.
"""

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from decaylab.analyze import CELL_KEYS, DECAY_WINDOW, RUN_KEYS, decaying, interval, window_end
from decaylab.claims.verdict import CONDITIONS, Claim, _settings, _status, _where, headline, judged_count, not_testable
from decaylab.figures import _claim_line, _empty, _faceted, _finish, _reference, _save

RATE_TOLERANCE = 0.10


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


def judge(claim: dict, w: pd.DataFrame, measured: dict) -> dict:
    """Claim 2 on its premise, the standard init: the whole network's per-epoch log-shrink over the first epochs is
    within RATE_TOLERANCE of -eta*lam/m (mean over seeds); settings whose window ends inside epoch 1 are counted,
    not judged. The condition that separates holding settings is looked for in eta*lam/n, the claim's own."""
    table = pd.DataFrame(claim.get("table", []))
    if table.empty:
        return not_testable("no run with lam > 0")
    standard = table[(table.init == "standard") & (table.layer == "net")]
    judged = standard[standard.resolved]
    if judged.empty:
        return not_testable("no setting of the standard init (the claim's premise) whose first epochs span at least "
                            "one whole epoch")
    where = _where(judged, "holds", {"eta_lam_over_n": "ηλ/n", **CONDITIONS})
    answer = (f"Standard init, whole network, over the first epochs (decay time ≤ {DECAY_WINDOW:g}): the "
              f"per-epoch log-shrink is within {RATE_TOLERANCE:.0%} of -ηλ/m in {where}; the exact factor "
              "(1 - ηλ/n)^(n/m) parts from exp(-ηλ/m) by up to "
              f"{judged.exp_vs_exact_rel_gap.max() * 100:.2g} % here (ηλ/n up to {judged.eta_lam_over_n.max():.3g}).")
    dominated = pd.DataFrame(measured["1_early_decay_dominance"].get("table", []))
    if len(dominated):
        keys = [*CELL_KEYS, "m", "n"]
        both = judged.merge(dominated[(dominated.layer == "net") & dominated.size_reading_holds][keys], on=keys)
        answer += f" Where decay dominates (claim 1): {int(both.holds.sum())}/{len(both)}."
    unresolved = standard[~standard.resolved]
    if len(unresolved):
        answer += f" Not judged: {_settings(len(unresolved))} where ηλ/m > {DECAY_WINDOW:g}."
    if claim.get("dead_pixel_max_log_error") is not None:
        answer += (f" Weights without gradient follow (1 - ηλ/n)^ceil(n/m) to {claim['dead_pixel_max_log_error']:.1e}"
                   " in log.")
    keys = [*CELL_KEYS, "m", "n"]
    runs = pd.DataFrame(claim["runs"])
    mine = runs[runs.layer == "net"].merge(judged[keys], on=keys)
    numbers = [headline("whole network's relative error of the log-shrink against ηλ/m, standard init",
                        mine.groupby("seed").error.mean(), "", judged.rel_error, "log_shrink_error")]
    if judged.eta_lam_over_n.nunique() > 1:
        worst = judged.loc[judged.eta_lam_over_n.idxmax()]
        at = mine.merge(pd.DataFrame([worst[keys]]), on=keys)
        numbers.append(headline(f"the same where ηλ/n is largest ({worst.eta_lam_over_n:.3g})", at.error,
                                metric="log_shrink_error_at_largest_eta_lam_over_n"))
    return {"status": _status(int(judged.holds.sum()), len(judged)), "answer": answer, "headline": numbers}


def draw(w: pd.DataFrame, out_dir: Path, runs=None) -> None:
    """ln(RMS_t / RMS_0) against decay time, per layer and the whole network, with the claim's -tau."""
    d = w[(w.lam > 0) & (w.layer.str.startswith("W") | (w.layer == "net"))].copy()
    if d.empty:
        return _empty(out_dir, "decay_rate", "no run with lam > 0")
    keys = [*RUN_KEYS, "n", "m", "layer"]
    d = d.join(d[d.epoch == 0].set_index(keys).rms.rename("rms0"), on=keys)
    d["τ = epochs · ηλ/m"] = d.epoch * d.eta * d.lam / d.m
    d["ln(RMS_t / RMS_0)"] = np.log(d.rms / d.rms0)
    top = min(6.0, float(d["τ = epochs · ηλ/m"].max()))
    d = d[d["τ = epochs · ηλ/m"] <= top]
    g = _faceted(d, "τ = epochs · ηλ/m", "ln(RMS_t / RMS_0)")
    y = d["ln(RMS_t / RMS_0)"]
    g.set(xlim=(0, top), ylim=(y.min() - 0.2, y.max() + 0.2))
    tau = np.linspace(0, top, 50)
    for ax in g.axes.flat:
        _claim_line(ax, tau, -tau, "the claim: exp(-ηλ/m) per epoch")
        _reference(ax, vertical=DECAY_WINDOW)
    extra = [(plt.Line2D([], [], color="grey", lw=7, alpha=0.35), "the claim: -τ, a factor exp(-ηλ/m) per epoch"),
             (plt.Line2D([], [], color="tab:red", lw=0.9, ls=(0, (2, 2))), f"end of the first epochs, τ = "
                                                                           f"{DECAY_WINDOW:g}")]
    count = judged_count(claim_decay_rate(w)["table"], "holds")
    _finish(g, f"Claim 2: the standard init's network shrinks by exp(-ηλ/m) per epoch in {count} settings", extra)
    _save(g.figure, out_dir, "decay_rate")


def tables(claim: dict) -> list[tuple[str, list[dict], list[str]]]:
    """The report's tables of this claim: (introduction, rows, columns)."""
    return [("Per setting and layer (`net`: the whole network), over its first epochs:",
                      claim.get("table", []), [
        "layer", "arm", "init", "lam", "eta", "hidden", "n", "m", "eta_lam_over_m", "eta_lam_over_n",
        "window_epochs", "resolved", "rel_error", "exp_vs_exact_rel_gap", "holds"])]


CLAIM = Claim(
    key="2_decay_rate", title="Decay rate",
    statement="provided ηλ ≪ n the weights will decay by a factor of exp(−ηλ/m) per epoch",
    figure="decay_rate",
    caption=("Claim 2, decay rate as a data collapse: ln(RMS_t / RMS_0) against decay time tau = epochs x "
              "eta*lambda/m, per weight layer and for the whole network (columns), a row per other setting; colour: "
              "init, line style: lambda; mean over seeds. Grey band: the claim, -tau (a factor exp(-eta*lambda/m) "
              "per epoch); red: the end of the first epochs (tau = 1)."),
    measure=lambda w, runs: claim_decay_rate(w), judge=judge, draw=draw, tables=tables,
    thresholds={"rate_tolerance": RATE_TOLERANCE}, collapsed=True)
