"""Each claim's verdict: a status, a one-sentence answer built from the numbers, and 2-4 headline numbers, each
a mean with a 95 % interval over seeds (Student's t). Thresholds are analyze's; nothing is written by hand.

Status: `holds` (in every setting the study tests), `holds-conditionally` (in some: the answer names where),
`fails` (in none), `not-testable` (the runs cannot test it: the reason is the answer).
Init and lambda contrasts are per-seed paired differences: cells with the same seed share the init draws
(scaled = standard / sqrt(n_in), same biases) and the data order.
"""


import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from decaylab import analyze
from decaylab.analyze import CELL_KEYS, decay_share, decaying, early_shares, interval, one_hidden_layer, per_seed_slopes

# two inits reach the same accuracy when their paired gap is equivalent to 0 within 1 pp: the resolution at which
# the book calls its two inits' accuracies the same ("both end somewhat over 96 percent")
SAME_ACCURACY = 0.01
PAIR_KEYS = ["arm", "lam", "eta", "hidden"]  # an init pair: same cell but for the init, same seed
PAIR_INFO = ["n", "m", "epochs"]  # what a setting without L2 must share to be its contrast


def headline(name: str, per_seed, unit: str = "", cells: pd.Series | None = None) -> dict:
    """A number over seeds (mean, 95 % interval); over several settings also the range of their means."""
    out = {"name": name, **interval(per_seed), "unit": unit}
    if cells is not None and len(cells) > 1:
        means = [h["mean"] for h in cells if h["mean"] is not None]
        out["cells"] = {"count": len(means), "min": min(means), "max": max(means)}
    return out


def _status(held: int, tested: int) -> str:
    return "holds" if held == tested else "fails" if held == 0 else "holds-conditionally"


def not_testable(reason: str) -> dict:
    return {"status": "not-testable", "answer": f"Not testable here: {reason}.", "headline": []}


def _tau(df: pd.DataFrame) -> pd.Series:
    """ηλ/m: the per-epoch log-shrink that decay alone would give."""
    return df.eta * df.lam / df.m


def _condition(cells: pd.DataFrame, held: str) -> str:
    """Where `held` is true among cells: everywhere, nowhere, for one init (and above a threshold of ηλ/m within
    it), above a threshold of ηλ/m, a list of up to three settings, or a count."""
    n, k = len(cells), int(cells[held].sum())
    if k == n:
        return f"in all {n} settings" if n > 1 else "in its one setting"
    if k == 0:
        return f"in none of {n} settings" if n > 1 else "not in its one setting"
    if (threshold := _threshold(cells, held)) is not None:
        return f"where ηλ/m ≥ {threshold:.3g} ({k}/{n} settings)"
    if k <= 3:
        return f"in {k}/{n} settings (" + "; ".join(_label(r) for _, r in cells[cells[held]].iterrows()) + ")"
    inits = cells[cells[held]].init.unique()
    if len(inits) == 1 and cells.init.nunique() > 1:
        mine = cells[cells.init == inits[0]]
        within = (", in all its settings" if mine[held].all() else
                  f" where ηλ/m ≥ {t:.3g}" if (t := _threshold(mine, held)) is not None else
                  f" in {k}/{len(mine)} of its settings")
        return f"with the {inits[0]} init{within} ({k}/{n} settings)"
    return f"in {k}/{n} settings"


def _threshold(cells: pd.DataFrame, held: str) -> float | None:
    """The ηλ/m from which `held` is true and below which it is false, if there is one."""
    above = cells.tau[cells[held]].min()
    if cells[cells.tau >= above][held].all() and not cells[cells.tau < above][held].any():
        return float(above)
    return None


def _label(cell: pd.Series) -> str:
    """A setting as the answer names it: init, lambda, eta (and arm and width where the study has several)."""
    return f"{cell.init}, λ={cell.lam:g}, η={cell.eta:g}, h={cell.hidden}" + (f", {cell.arm}" if cell.arm != "main"
                                                                                else "")


def dominance(w: pd.DataFrame) -> dict:
    """Claim 1 from the per-seed decay share of the early epochs, per layer and setting."""
    per_seed = early_shares(w).rename(columns={"decay_share": "share"})
    if per_seed.empty:
        return not_testable("no run with lam > 0")
    per_seed["tau"] = _tau(per_seed)
    cells = per_seed.groupby([*CELL_KEYS, "m", "layer", "tau"], as_index=False).share.agg(
        held=lambda s: bool((s >= analyze.SHARE_THRESHOLD).all()))
    layers = sorted(cells.layer.unique())
    where = {layer: _condition(cells[cells.layer == layer], "held") for layer in layers}
    answer = (f"Decay makes up ≥ {analyze.SHARE_THRESHOLD:g} of the change of ‖W‖² over the first "
              f"{analyze.EARLY_EPOCHS} epochs (every seed) " + "; ".join(f"for {layer} {where[layer]}"
                                                                         for layer in layers) + ".")
    numbers = []  # per layer the setting where decay dominates most; for the first layer also where it does least
    for layer, ends in ((layers[0], ("most", "least")), (layers[-1], ("most",)))[: min(2, len(layers))]:
        means = per_seed[per_seed.layer == layer].groupby(CELL_KEYS).share.mean().sort_values()
        for end in ends:
            cell = dict(zip(CELL_KEYS, means.index[-1 if end == "most" else 0]))
            at = per_seed[(per_seed.layer == layer) & (per_seed[CELL_KEYS] == pd.Series(cell)).all(axis=1)]
            numbers.append(headline(f"{layer} decay share, first {analyze.EARLY_EPOCHS} epochs, where {end} "
                                    f"({_label(pd.Series(cell))})", at.share))
    return {"status": _status(int(cells.held.sum()), len(cells)), "answer": answer, "headline": numbers}


def decay_rate(w: pd.DataFrame, dead_pixel_error: float | None) -> dict:
    """Claim 2: in decay-dominated epochs (ηλ/n small), the log-shrink per epoch against -ηλ/m."""
    d = decaying(w).copy()
    if d.empty:
        return not_testable("no run with lam > 0")
    d["share"] = decay_share(d)
    d = d[(d.share >= analyze.SHARE_THRESHOLD) & (d.eta * d.lam / d.n <= analyze.SMALL_ETA_LAM_OVER_N)]
    if d.empty:
        return not_testable(f"no decay-dominated epoch with ηλ/n ≤ {analyze.SMALL_ETA_LAM_OVER_N:g}")
    d["tau"] = _tau(d)
    d["error"] = (np.log(d["shrink"]) / -d.tau - 1).abs()
    per_seed = d.groupby([*CELL_KEYS, "seed", "m", "tau", "layer"], as_index=False).error.median()
    cells = per_seed.groupby([*CELL_KEYS, "tau", "layer"], as_index=False).error.median()
    cells["held"] = cells.error <= analyze.RATE_TOLERANCE
    layers = sorted(cells.layer.unique())
    answer = (f"In decay-dominated epochs the weights shrink by exp(-ηλ/m) per epoch to within "
              f"{analyze.RATE_TOLERANCE:.0%} (median over epochs) "
              + "; ".join(f"for {layer} {_condition(cells[cells.layer == layer], 'held')}" for layer in layers) + ".")
    if dead_pixel_error is not None:
        answer = answer[:-1] + (f"; weights without gradient follow (1 - ηλ/n)^ceil(n/m) to {dead_pixel_error:.1e}"
                                " in log.")
    numbers = [headline(f"{layer} relative error of the log-shrink against ηλ/m (median over decay-dominated "
                        "epochs)", per_seed[per_seed.layer == layer].groupby("seed").error.median())
               for layer in layers]
    return {"status": _status(int(cells.held.sum()), len(cells)), "answer": answer, "headline": numbers[:4]}


def tail_off(claim: dict) -> dict:
    """Claim 3 from the log-log slopes of the plateau RMS against n_w (per seed, averaged over the groups)."""
    table = pd.DataFrame(claim.get("table", []))
    if table.empty:
        return not_testable("no run with lam > 0")
    widths = sorted(table.n_w.unique())
    slopes = pd.DataFrame(claim["slopes_vs_n_w"])
    if len(widths) < 2 or slopes.empty:
        return not_testable(f"one network size (n_w = {widths[0]:,}) per setting; the tail-off law needs several")
    per_seed = _per_seed_slopes(table[table.plateau_settled], "n_w")
    numbers, held, parts = [], 0, []
    for layer, g in per_seed.groupby("layer"):
        h = headline(f"{layer} slope of plateau RMS against n_w (log-log)", g.slope)
        expected = {**analyze.HYPOTHESES, "1/sqrt(n_in)": 0.0 if layer == "W1" else -0.5}
        ci = h["ci95"] or [h["mean"], h["mean"]]
        fits = [name for name, s in expected.items() if ci[0] - 1e-9 <= s <= ci[1] + 1e-9]
        held += "1/sqrt(n_w)" in fits
        parts.append(f"{layer} {h['mean']:+.2f} [{ci[0]:+.2f}, {ci[1]:+.2f}] "
                     f"({'consistent with ' + ' and '.join(fits) if fits else 'none of the three scalings'})")
        numbers.append(h)
    lam = _per_seed_slopes(table[table.plateau_settled].assign(lam_over_n=table.lam / table.n), "lam_over_n")
    for layer, g in lam.groupby("layer"):
        numbers.append(headline(f"{layer} slope of plateau RMS against lam/n (log-log)", g.slope))
    answer = ("Slope of the plateau weight RMS against n_w: " + "; ".join(parts)
              + " (1/sqrt(n_w) predicts -0.5, 1/n_w -1, 1/sqrt(n_in) 0 for W1 and -0.5 after).")
    return {"status": _status(held, len(parts)), "answer": answer, "headline": numbers[:4]}


def _per_seed_slopes(table: pd.DataFrame, x: str) -> pd.DataFrame:
    """Per layer and seed: the slope of log plateau RMS against log x, averaged over the groups that vary x."""
    if x == "n_w":
        slopes = per_seed_slopes(one_hidden_layer(table), x, ["layer", "init", "lam", "eta", "n"])
    else:
        slopes = per_seed_slopes(table, x, ["layer", "init", "hidden", "eta", "n"])
    return slopes.groupby(["layer", "seed"], as_index=False).slope.mean()


def init_pairs(w: pd.DataFrame) -> pd.DataFrame:
    """Per init pair (standard, scaled) and seed: paired differences scaled - standard of validation accuracy at
    epoch 1 and at the end, each init's final validation accuracy, and per layer the ratio standard / scaled of the
    final weight RMS, the standard init's initial RMS and the scaled init's (the new approach's size)."""
    rows = []
    for key, g in w.groupby([*PAIR_KEYS, *PAIR_INFO, "seed"]):
        if not {"standard", "scaled"} <= set(g.init):
            continue
        by = g[g.layer == "net"].pivot_table(index="epoch", columns="init", values="acc_validation")
        row = dict(zip([*PAIR_KEYS, *PAIR_INFO, "seed"], key))
        row["acc_gap_epoch1"] = by.scaled.get(1, np.nan) - by.standard.get(1, np.nan)
        row["acc_gap_final"] = by.scaled.iloc[-1] - by.standard.iloc[-1]
        row["acc_standard_final"], row["acc_scaled_final"] = by.standard.iloc[-1], by.scaled.iloc[-1]
        weights = g[g.layer.str.startswith("W")]
        last = weights[weights.epoch == weights.epoch.max()].pivot_table(index="layer", columns="init", values="rms")
        first = weights[weights.epoch == 0].pivot_table(index="layer", columns="init", values="rms")
        for layer, r in last.iterrows():
            row[f"{layer}_rms_ratio_final"] = r.standard / r.scaled
            row[f"{layer}_rms_standard_start"] = first.standard.get(layer, np.nan)
            row[f"{layer}_rms_scaled_start"] = first.scaled.get(layer, np.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def lam_contrasts(runs: pd.DataFrame) -> list[dict]:
    """Per init and lam > 0: paired differences (lam - no L2, same seed, init, eta, width, n) of the final
    validation and test accuracy, mean and 95 % interval over seeds."""
    keys = ["init", "eta", "hidden", "n", "seed"]
    ok = runs[~runs.diverged & ~runs.collapsed]
    base = ok[ok.lam == 0].set_index(keys)
    out = []
    for (init, lam, eta, hidden, n), g in ok[ok.lam > 0].groupby(["init", "lam", "eta", "hidden", "n"]):
        joined = g.set_index(keys).join(base[["acc_validation", "acc_test"]], rsuffix="_no_l2", how="inner")
        if joined.empty:
            continue
        out.append({"init": init, "lam": lam, "eta": eta, "hidden": hidden, "n": int(n),
                    "acc_validation_gain": interval(joined.acc_validation - joined.acc_validation_no_l2),
                    "acc_test_gain": interval(joined.acc_test - joined.acc_test_no_l2)})
    return out


def equivalent(differences, margin: float) -> bool:
    """Two one-sided t-tests at 5 %: the mean paired difference lies within +-margin (its 90 % t-interval inside
    (-margin, margin)). Never from one seed."""
    v = np.asarray([x for x in differences if np.isfinite(x)], dtype=float)
    if len(v) < 2:
        return False
    half = student_t.ppf(0.95, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return bool(-margin < v.mean() - half and v.mean() + half < margin)


def _settings(count: int) -> str:
    return f"{count} setting{'s' * (count != 1)}"


def _gap(values) -> dict:
    return {**interval(values), "unit": "accuracy"}


def init_cells(pairs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Claim 4's tables from the paired runs: per setting with L2 (accuracy) and per setting and layer (weights).

    Accuracy: the scaled init's lead (scaled - standard) after epoch 1 and at the end, its closure (epoch 1 - end),
    whether the final lead is equivalent to 0 (two one-sided tests, margin SAME_ACCURACY), and, where the same
    setting ran without L2 (same eta, width, n, m, epochs and seed), the difference in differences (lead with L2 -
    lead without) and the question's own comparison: standard init with L2 - scaled init without.
    Weights: the final RMS ratio standard / scaled with L2 (and without), the smallest RMS pure decay can reach in
    the run (the standard init's initial RMS x exp(-epochs eta lam/m)) beside the scaled init's initial RMS, and
    whether that size is reachable at all."""
    match = ["eta", "hidden", *PAIR_INFO, "seed"]
    plain = pairs[pairs.lam == 0].set_index(match)
    accuracy, weights = [], []
    for key, g in pairs[pairs.lam > 0].groupby([*PAIR_KEYS, *PAIR_INFO]):
        cell = dict(zip([*PAIR_KEYS, *PAIR_INFO], key))
        joined = g.join(plain, on=match, rsuffix="_no_l2", how="inner")
        accuracy.append({**cell, "seeds": len(g), "lead_epoch1": _gap(g.acc_gap_epoch1),
                         "lead_final": _gap(g.acc_gap_final), "closure": _gap(g.acc_gap_epoch1 - g.acc_gap_final),
                         "equivalent": equivalent(g.acc_gap_final, SAME_ACCURACY),
                         "lead_change_by_l2": _gap(joined.acc_gap_final - joined.acc_gap_final_no_l2),
                         "standard_l2_minus_scaled_no_l2": _gap(joined.acc_standard_final
                                                                - joined.acc_scaled_final_no_l2)})
        decay = cell["epochs"] * cell["eta"] * cell["lam"] / cell["m"]
        for layer in sorted(c.split("_")[0] for c in g if c.endswith("_rms_ratio_final") and g[c].notna().any()):
            floor = float(g[f"{layer}_rms_standard_start"].mean() * np.exp(-decay))
            target = float(g[f"{layer}_rms_scaled_start"].mean())
            weights.append({**cell, "layer": layer, "rms_ratio_final": interval(g[f"{layer}_rms_ratio_final"]),
                            "rms_ratio_final_no_l2": interval(joined[f"{layer}_rms_ratio_final_no_l2"]),
                            "pure_decay_floor": floor, "scaled_init_rms": target,
                            "reachable": floor <= target * (1 + analyze.SAME_SIZE)})
    return pd.DataFrame(accuracy), pd.DataFrame(weights)


def init_comparison(w: pd.DataFrame) -> dict:
    """Claim 4: does L2 give the standard init something similar to the scaled init? Status per setting with L2:
    the two inits' final validation accuracies are equivalent (two one-sided tests within SAME_ACCURACY)."""
    pairs = init_pairs(w)
    if pairs.empty or not (pairs.lam > 0).any():
        return not_testable("no setting with lam > 0 run with both the standard and the scaled init")
    accuracy, weights = init_cells(pairs)
    with_l2 = pairs[pairs.lam > 0]
    per_seed = with_l2.groupby("seed")
    numbers = [headline("scaled init's lead after epoch 1, with L2", per_seed.acc_gap_epoch1.mean(), "accuracy",
                        accuracy.lead_epoch1),
               headline("scaled init's lead at the end, with L2", per_seed.acc_gap_final.mean(), "accuracy",
                        accuracy.lead_final)]
    changes = accuracy[accuracy.lead_change_by_l2.map(lambda h: h["seeds"] > 0)]
    if len(changes):
        match = ["eta", "hidden", *PAIR_INFO, "seed"]
        joined = with_l2.join(pairs[pairs.lam == 0].set_index(match), on=match, rsuffix="_no_l2", how="inner")
        numbers.append(headline("change of the scaled init's final lead by L2 (with - without)",
                                (joined.acc_gap_final - joined.acc_gap_final_no_l2).groupby(joined.seed).mean(),
                                "accuracy", changes.lead_change_by_l2))
    held = int(accuracy.equivalent.sum())
    answer = (f"With L2 the two inits end with equivalent validation accuracy (within ±{SAME_ACCURACY * 100:g} pp, "
              f"two one-sided tests at 5 %) in {held}/{len(accuracy)} settings; the scaled init's lead goes from "
              f"{_pp(numbers[0])} after epoch 1 to {_pp(numbers[1])} at the end")
    if len(changes):
        answer += (f"; L2 changes that final lead by {_pp(numbers[2])} against the same "
                   f"{_settings(len(changes))} without L2")
    answer += "."
    if len(weights):
        same = weights.rms_ratio_final.map(lambda h: abs(h["mean"] - 1) <= analyze.SAME_SIZE)
        unreachable = int((~same & ~weights.reachable).sum())
        answer += (f" Weights: the standard init's final RMS is within {analyze.SAME_SIZE:.0%} of the scaled "
                   f"init's in {int(same.sum())}/{len(weights)} (setting, layer) pairs"
                   + (f"; in {unreachable} of the others the scaled init's size is not reachable in this run "
                      "(pure decay alone would stop above it)" if unreachable else "") + ".")
    return {"status": _status(held, len(accuracy)), "answer": answer, "headline": numbers,
            "accuracy_table": accuracy.to_dict("records"), "weights_table": weights.to_dict("records")}


def _pp(h: dict) -> str:
    ci = h["ci95"]
    return f"{h['mean'] * 100:+.1f} pp" + (f" [{ci[0] * 100:+.1f}, {ci[1] * 100:+.1f}]" if ci else "")
