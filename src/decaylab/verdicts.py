"""Each claim's verdict: a status, a one-sentence answer built from the numbers, and 2-4 headline numbers, each
a mean with a 95 % interval over seeds (Student's t). Thresholds are analyze's; nothing is written by hand.

Status: `holds` (in every setting the study tests), `holds-conditionally` (in some: the answer names where),
`fails` (in none), `not-testable` (the runs cannot test it: the reason is the answer).
Init and lambda contrasts are per-seed paired differences: cells with the same seed share the init draws
(scaled = standard / sqrt(n_in), same biases) and the data order.
"""


import numpy as np
import pandas as pd

from decaylab import analyze
from decaylab.analyze import CELL_KEYS, decay_share, decaying, early_shares, interval, one_hidden_layer, per_seed_slopes

SAME_ACCURACY = 0.005  # two inits reach the same accuracy when their paired gap is within 0.5 pp
PAIR_KEYS = ["arm", "lam", "eta", "hidden"]  # an init pair: same cell but for the init, same seed


def headline(name: str, per_seed, unit: str = "") -> dict:
    return {"name": name, **interval(per_seed), "unit": unit}


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
    epoch 1 and at the end, and the ratio standard / scaled of each layer's final weight RMS."""
    rows = []
    net = w[w.layer == "net"]
    for key, g in w.groupby([*PAIR_KEYS, "seed"]):
        if not {"standard", "scaled"} <= set(g.init):
            continue
        acc = net[(net[PAIR_KEYS + ["seed"]] == pd.Series(dict(zip([*PAIR_KEYS, "seed"], key)))).all(axis=1)]
        by = acc.pivot_table(index="epoch", columns="init", values="acc_validation")
        row = dict(zip([*PAIR_KEYS, "seed"], key))
        row["acc_gap_epoch1"] = by.scaled.get(1, np.nan) - by.standard.get(1, np.nan)
        row["acc_gap_final"] = by.scaled.iloc[-1] - by.standard.iloc[-1]
        last = g[g.layer.str.startswith("W") & (g.epoch == g.epoch.max())].pivot_table(
            index="layer", columns="init", values="rms")
        for layer, r in last.iterrows():
            row[f"{layer}_rms_ratio_final"] = r.standard / r.scaled
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


def init_comparison(w: pd.DataFrame) -> dict:
    """Claim 4: with L2, does the standard init reach the scaled init's weight size and accuracy?"""
    pairs = init_pairs(w[w.lam > 0])
    if pairs.empty:
        return not_testable("no cell with lam > 0 run with both the standard and the scaled init")
    cells = pairs.groupby(PAIR_KEYS)
    ratio_cols = sorted(c for c in pairs if c.endswith("_rms_ratio_final"))
    same = cells.apply(lambda g: _same_place(g, ratio_cols), include_groups=False)
    per_seed = pairs.groupby("seed")
    numbers = [headline("validation accuracy gap scaled - standard after epoch 1", per_seed.acc_gap_epoch1.mean(),
                        "accuracy"),
               headline("validation accuracy gap scaled - standard at the end", per_seed.acc_gap_final.mean(),
                        "accuracy")]
    for col in ratio_cols[:2]:
        numbers.append(headline(f"{col.split('_')[0]} weight RMS standard / scaled at the end", per_seed[col].mean()))
    first, last = numbers[0], numbers[1]
    answer = (f"With L2, the standard init ends at the scaled init's weight size (within {analyze.SAME_SIZE:.0%}) and "
              f"accuracy (within {SAME_ACCURACY * 100:g} pp) in {int(same.sum())}/{len(same)} settings; the scaled "
              f"init is {_pp(first)} ahead after epoch 1 and {_pp(last)} at the end (paired over seeds).")
    return {"status": _status(int(same.sum()), len(same)), "answer": answer, "headline": numbers}


def _same_place(g: pd.DataFrame, ratio_cols: list[str]) -> bool:
    gap = interval(g.acc_gap_final)
    near = abs(gap["mean"]) <= SAME_ACCURACY or (gap["ci95"] is not None and gap["ci95"][0] <= 0 <= gap["ci95"][1])
    present = [c for c in ratio_cols if g[c].notna().any()]  # only the layers this cell has
    return bool(near and all(abs(g[c].mean() - 1) <= analyze.SAME_SIZE for c in present))


def _pp(h: dict) -> str:
    ci = h["ci95"]
    return f"{h['mean'] * 100:+.1f} pp" + (f" [{ci[0] * 100:+.1f}, {ci[1] * 100:+.1f}]" if ci else "")
