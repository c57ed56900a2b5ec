"""Claim 4, L2 as the new init: "L2 regularization sometimes automatically gives us something similar to the new
approach to weight initialization", and the reader's question, how the standard init with L2 relates to N(0, 1/n_in)
without regularization.

Measured per setting with L2, paired by seed (the two inits of a seed share their draws): the scaled init's lead
in final validation accuracy after epoch 1 and at the end, its closure, and whether the final lead is equivalent
to 0 (two one-sided t-tests at 5 % within SAME_ACCURACY: the status); against the same setting without L2 the
difference in differences, and the question's own comparison. Weights: each layer's final RMS ratio standard /
scaled, and the smallest RMS pure decay can reach in the run beside the scaled init's: where that floor is above
it, the size is "not reachable in this run". Settings that did not learn are left out, counted.
"""

import math
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from scipy.stats import t as student_t

from decaylab.analyze import _span, did_not_learn, interval, learned
from decaylab.claims.verdict import Claim, _pp, _settings, _status, headline, not_testable
from decaylab.data import REAL_DIGITS
from decaylab.figures import (
    DASHES,
    FEW_SEEDS_HANDLE,
    INIT_PALETTE,
    _claim_line,
    _empty,
    _inits,
    _lam,
    _log_ticks,
    _order,
    _reference,
    _save,
    _setting,
    mark_few_seeds,
    t_band,
)

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


# two inits reach the same accuracy when their paired gap is equivalent to 0 within 1 pp: the resolution at which
# the book calls its two inits' accuracies the same ("both end somewhat over 96 percent")
SAME_ACCURACY = 0.01


PAIR_KEYS = ["arm", "lam", "eta", "hidden"]  # an init pair: same cell but for the init, same seed


PAIR_INFO = ["n", "m", "epochs"]  # what a setting without L2 must share to be its contrast


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
                            "reachable": floor <= target * (1 + SAME_SIZE)})
    return pd.DataFrame(accuracy), pd.DataFrame(weights)


def judge(claim: dict, w: pd.DataFrame, measured: dict) -> dict:
    """Claim 4: does L2 give the standard init something similar to the scaled init? Status per setting with L2:
    the two inits' final validation accuracies are equivalent (two one-sided tests within SAME_ACCURACY)."""
    skipped = did_not_learn(w)
    pairs = init_pairs(learned(w))
    if pairs.empty or not (pairs.lam > 0).any():
        return not_testable("no setting with lam > 0 run with both the standard and the scaled init")
    accuracy, weights = init_cells(pairs)
    with_l2 = pairs[pairs.lam > 0]
    per_seed = with_l2.groupby("seed")
    numbers = [headline("scaled init's lead after epoch 1, with L2", per_seed.acc_gap_epoch1.mean(), "accuracy",
                        accuracy.lead_epoch1, "lead_epoch1"),
               headline("scaled init's lead at the end, with L2", per_seed.acc_gap_final.mean(), "accuracy",
                        accuracy.lead_final, "lead_final")]
    changes = accuracy[accuracy.lead_change_by_l2.map(lambda h: h["seeds"] > 0)]
    if len(changes):
        match = ["eta", "hidden", *PAIR_INFO, "seed"]
        joined = with_l2.join(pairs[pairs.lam == 0].set_index(match), on=match, rsuffix="_no_l2", how="inner")
        numbers.append(headline("change of the scaled init's final lead by L2 (with - without)",
                                (joined.acc_gap_final - joined.acc_gap_final_no_l2).groupby(joined.seed).mean(),
                                "accuracy", changes.lead_change_by_l2, "lead_change_by_l2"))
    held = int(accuracy.equivalent.sum())
    answer = (f"With L2 the two inits end with equivalent validation accuracy (within ±{SAME_ACCURACY * 100:g} pp, "
              f"two one-sided tests at 5 %) in {held}/{len(accuracy)} settings; the scaled init's lead goes from "
              f"{_pp(numbers[0])} after epoch 1 to {_pp(numbers[1])} at the end")
    if len(changes):
        answer += (f"; L2 changes that final lead by {_pp(numbers[2])} against the same "
                   f"{_settings(len(changes))} without L2")
    answer += "."
    if len(weights):
        same = weights.rms_ratio_final.map(lambda h: abs(h["mean"] - 1) <= SAME_SIZE)
        unreachable = int((~same & ~weights.reachable).sum())
        answer += (f" Weights: the standard init's final RMS is within {SAME_SIZE:.0%} of the scaled "
                   f"init's in {int(same.sum())}/{len(weights)} (setting, layer) pairs"
                   + (f"; in {unreachable} of the others the scaled init's size is not reachable in this run "
                      "(pure decay alone would stop above it)" if unreachable else "") + ".")
    if len(skipped):
        answer += f" Left out: {len(skipped)} cells (init and setting) that did not learn (over-regularized)."
    return {"status": _status(held, len(accuracy)), "answer": answer, "headline": numbers,
            "accuracy_table": accuracy.to_dict("records"), "weights_table": weights.to_dict("records")}


def draw(w: pd.DataFrame, out_dir: Path, runs: pd.DataFrame | None = None) -> None:
    """Validation accuracy per epoch and weight RMS per layer, each init a colour, a row per setting."""
    several = w.groupby(["arm", "lam", "eta", "hidden"]).init.transform("nunique") > 1
    d = w[several].copy()
    if d.empty:
        return _empty(out_dir, "init_comparison", "no cell run with two inits")
    d, order, _ = _lam(d)
    d["setting"] = _setting(d)
    settings = _order(d)
    layers = sorted(x for x in d.layer.unique() if x.startswith("W"))
    log_x = d.epoch.max() > 60
    fig, axes = plt.subplots(len(settings), len(layers) + 1, figsize=(3.3 * (len(layers) + 1), 2.5 * len(settings)),
                             squeeze=False)
    dashes, book_shown, few_seeds = dict(zip(order, DASHES)), False, False
    for i, (setting, row) in enumerate(zip(settings, axes)):
        mine = d[d.setting == setting]
        acc = mine[(mine.layer == "net") & (mine.epoch >= 1)]
        sns.lineplot(acc, x="epoch", y="acc_validation", hue="init", hue_order=_inits(d), palette=INIT_PALETTE,
                     style="λ", style_order=order, dashes=dashes, errorbar=t_band, ax=row[0], legend=i == 0)
        few_seeds = mark_few_seeds(row[0], acc, "epoch", "acc_validation") or few_seeds
        means = acc.groupby(["init", "λ", "epoch"]).acc_validation.mean()
        low, high = means.min(), means.max()
        marks = _book_marks(runs, mine)
        book_shown = book_shown or bool(marks)
        for value in marks:
            _reference(row[0], horizontal=value)
        high = max([high, *marks])
        row[0].set(ylim=(low - 0.1 * (high - low), high + 0.1 * (high - low)), ylabel="validation accuracy",
                   title=setting or "validation accuracy")
        for layer, ax in zip(layers, row[1:]):
            rms = mine[mine.layer == layer]
            if rms.empty:  # a deeper network's layer, in a row of shallower ones
                ax.axis("off")
                continue
            sns.lineplot(rms, x="epoch", y="rms", hue="init", hue_order=_inits(d), palette=INIT_PALETTE, style="λ",
                         style_order=order, dashes=dashes, errorbar=t_band, ax=ax, legend=False)
            few_seeds = mark_few_seeds(ax, rms, "epoch", "rms") or few_seeds
            for n_in in rms.n_in.dropna().unique():
                _claim_line(ax, [rms.epoch.min(), rms.epoch.max()], [1 / math.sqrt(n_in)] * 2, "")
            ax.set(yscale="log", ylabel="weight RMS", title=f"{layer} weight RMS")
            _log_ticks(ax.yaxis)
        for ax in row:
            if log_x:
                ax.set_xscale("log")
            else:
                ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    legend = axes[0][0].get_legend()
    if legend:
        handles, labels = axes[0][0].get_legend_handles_labels()
        legend.remove()
        handles.append(plt.Line2D([], [], color="grey", lw=7, alpha=0.35))
        labels.append("the new init's size, 1/sqrt(n_in)")
        if book_shown:
            handles.append(plt.Line2D([], [], color="tab:red", lw=0.9, ls=(0, (6, 2))))
            labels.append("the book's accuracy (real digits)")
        if few_seeds:
            handles.append(FEW_SEEDS_HANDLE[0])
            labels.append(FEW_SEEDS_HANDLE[1])
        fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    accuracy, _ = init_cells(init_pairs(learned(w)))
    if len(accuracy):
        fig.suptitle(f"Claim 4: with L2 the standard init ends level with the scaled init (within "
                     f"±{SAME_ACCURACY * 100:g} pp) in {int(accuracy.equivalent.sum())}/{len(accuracy)} settings",
                     fontsize=10)
    fig.tight_layout()
    _save(fig, out_dir, "init_comparison")


def _book_marks(runs: pd.DataFrame | None, mine: pd.DataFrame) -> list[float]:
    """The book's reported validation accuracies of the setting's cells (from runs.csv), on real digits only (the
    book's numbers are MNIST's)."""
    if runs is None or "book_accuracy" not in runs:
        return []
    cells = runs[runs.arm.isin(mine.arm.unique()) & runs.book_accuracy.notna() & (runs.book_split == "validation")
                 & runs.dataset.isin(REAL_DIGITS)]
    return sorted(set(cells.book_accuracy))


def tables(claim: dict) -> list[tuple[str, list[dict], list[str]]]:
    """The report's tables of this claim: (introduction, rows, columns)."""
    return [
        ("Accuracy, per setting with L2 (validation, paired per seed; pp): the scaled init's lead (scaled - "
         "standard) after epoch 1 and at the end, its closure, whether the final lead is equivalent to 0 "
         f"(two one-sided tests, ±{SAME_ACCURACY * 100:g} pp), its change by L2 against the same "
         "setting without L2, and the question's comparison, standard init with L2 - scaled init without:",
         claim.get("accuracy_table", []),
         ["arm", "lam", "eta", "hidden", "n", "seeds", "lead_epoch1", "lead_final", "closure", "equivalent",
          "lead_change_by_l2", "standard_l2_minus_scaled_no_l2"]),
        ("Weights, per setting with L2 and layer: final RMS standard / scaled (with L2 and without), the "
         "smallest RMS pure decay reaches in the run (the standard init's initial RMS x exp(-epochs ηλ/m)) "
         "beside the scaled init's RMS; `reachable`: that floor is within 10 % of it or below:",
         claim.get("weights_table", []),
         ["layer", "arm", "lam", "eta", "hidden", "rms_ratio_final", "rms_ratio_final_no_l2", "pure_decay_floor",
          "scaled_init_rms", "reachable"]),
        ("Every init's weight RMS against the scaled init's (means over seeds); `within 10%`: the first epoch "
         "from which the two stay within 10 % of each other; `reaches`: the first epoch at or below "
         "1/sqrt(n_in):", claim.get("weights", []),
         ["layer", "init", "arm", "lam", "eta", "hidden", "n_in", "rms_start", "rms_end", "scaled_rms_start",
          "scaled_rms_end", "end_ratio_to_scaled", "epoch_within_10pct_of_scaled", "epoch_reaches_inv_sqrt_n_in"]),
        ("What L2 buys: final accuracy with lam against without, paired per seed (same init, eta, width, n):",
         claim.get("lam_contrasts", []),
         ["init", "lam", "eta", "hidden", "n", "acc_validation_gain", "acc_test_gain"])]


CLAIM = Claim(
    key="4_init_comparison", title="L2 as the new init",
    statement=("L2 regularization sometimes automatically gives us something similar to the new approach to weight "
               "initialization"),
    figure="init_comparison",
    caption=("Claim 4, in the manner of the book's plot: validation accuracy per epoch (axis zoomed to the data) "
                   "and each layer's weight RMS (log), a row per setting; colour: init, line style: lambda; mean and "
                   "95% band over seeds. Grey band: the new init's size 1/sqrt(n_in); red dashes: the book's "
                   "reported accuracy, where the setting has one and the data are real digits."),
    measure=claim_init, judge=judge, draw=draw, tables=tables,
    thresholds={"same_size": SAME_SIZE, "same_accuracy": SAME_ACCURACY})
