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
from decaylab.analyze import CELL_KEYS, interval, one_hidden_layer, per_seed_slopes

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


CONDITIONS = {"eta_lam_over_m": "ηλ/m", "eta": "η", "lam_over_n": "λ/n"}  # what may separate holding cells


def separating(cells: pd.DataFrame, held: str, conditions: dict[str, str] = CONDITIONS) -> str | None:
    """The condition, in one of CONDITIONS, that separates the cells where `held` is true from the others (e.g.
    "η ≤ 0.5"), if one does; None otherwise."""
    if cells[held].all() or not cells[held].any():
        return None
    for column, name in conditions.items():
        yes, no = cells[cells[held]][column], cells[~cells[held]][column]
        if yes.min() > no.max():
            return f"{name} ≥ {yes.min():.3g}"
        if yes.max() < no.min():
            return f"{name} ≤ {yes.max():.3g}"
    return None


def _where(cells: pd.DataFrame, held: str, conditions: dict[str, str] = CONDITIONS) -> str:
    """k/N settings and, where one separates them, the condition."""
    k, n = int(cells[held].sum()), len(cells)
    condition = separating(cells, held, conditions)
    return f"{k}/{n} settings" + (f", exactly where {condition}" if condition else "")


def dominance(claim: dict, w: pd.DataFrame) -> dict:
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
                            f"≤ {analyze.DECAY_WINDOW:g}) span at least one whole epoch")
    answer = (f"Standard init, whole network: decay makes up ≥ {analyze.SHARE_THRESHOLD:g} of the change of ‖W‖² over "
              f"the first epochs (decay time τ ≤ {analyze.DECAY_WINDOW:g}) in {_where(network, 'size_reading_holds')}; "
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
        answer += (f" Not judged: {_settings(len(unresolved))} where ηλ/m > {analyze.DECAY_WINDOW:g}, whose first "
                   "phase ends inside epoch 1.")
    runs = analyze.early_shares(w)
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


def decay_rate(claim: dict, dominance_claim: dict) -> dict:
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
    answer = (f"Standard init, whole network, over the first epochs (decay time ≤ {analyze.DECAY_WINDOW:g}): the "
              f"per-epoch log-shrink is within {analyze.RATE_TOLERANCE:.0%} of -ηλ/m in {where}; the exact factor "
              "(1 - ηλ/n)^(n/m) parts from exp(-ηλ/m) by up to "
              f"{judged.exp_vs_exact_rel_gap.max() * 100:.2g} % here (ηλ/n up to {judged.eta_lam_over_n.max():.3g}).")
    dominated = pd.DataFrame(dominance_claim.get("table", []))
    if len(dominated):
        keys = [*CELL_KEYS, "m", "n"]
        both = judged.merge(dominated[(dominated.layer == "net") & dominated.size_reading_holds][keys], on=keys)
        answer += f" Where decay dominates (claim 1): {int(both.holds.sum())}/{len(both)}."
    unresolved = standard[~standard.resolved]
    if len(unresolved):
        answer += f" Not judged: {_settings(len(unresolved))} where ηλ/m > {analyze.DECAY_WINDOW:g}."
    if claim.get("dead_pixel_max_log_error") is not None:
        answer += (f" Weights without gradient follow (1 - ηλ/n)^ceil(n/m) to {claim['dead_pixel_max_log_error']:.1e}"
                   " in log.")
    keys = [*CELL_KEYS, "m", "n"]
    runs = pd.DataFrame(claim["runs"])
    mine = runs[runs.layer == "net"].merge(judged[keys], on=keys)
    numbers = [headline("whole network's relative error of the log-shrink against ηλ/m, standard init",
                        mine.groupby("seed").error.mean(), "", judged.rel_error)]
    if judged.eta_lam_over_n.nunique() > 1:
        worst = judged.loc[judged.eta_lam_over_n.idxmax()]
        at = mine.merge(pd.DataFrame([worst[keys]]), on=keys)
        numbers.append(headline(f"the same where ηλ/n is largest ({worst.eta_lam_over_n:.3g})", at.error))
    return {"status": _status(int(judged.holds.sum()), len(judged)), "answer": answer, "headline": numbers}


def tail_off(claim: dict) -> dict:
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
    slopes = [np.mean([np.polyfit(np.log(s.n_w.astype(float)), np.log(s.plateau_rms), 1)[0]
                       for _, s in g.groupby(analyze.NETWORK_GROUP) if s.n_w.nunique() >= 2]) for _, g in per_seed]
    numbers = [headline("network slope of plateau RMS against n_w (log-log, standard init)", slopes, "",
                        premise.slope),
               headline("network prefactor: plateau RMS x sqrt(n_w) (the claim's: 1)",
                        [float(np.exp(np.log(g.prefactor).mean())) for _, g in per_seed], "", premise.prefactor)]
    form, magnitude = int(premise.form_holds.sum()), int(premise.magnitude_holds.sum())
    held = int((premise.form_holds & premise.magnitude_holds).sum())
    answer = (f"Whole network, standard init: plateau RMS ∝ n_w^{_ci(numbers[0])}, so the form 1/sqrt(n) holds in "
              f"{form}/{len(premise)} settings (slope interval containing -1/2); its prefactor is "
              f"{_ci(numbers[1], '.3g')} against the claim's 1, so the magnitude holds in {magnitude}/{len(premise)} "
              f"(within a factor {analyze.AROUND:.2g})")
    if fit := claim.get("prefactor_fit"):
        answer += "; the prefactor grows as " + " ".join(
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


def _ci(h: dict, spec: str = "+.2f") -> str:
    """mean [95 % interval], and the settings' range where the number is over several."""
    ci, cells = h["ci95"], h.get("cells")
    return (format(h["mean"], spec) + (f" [{format(ci[0], spec)}, {format(ci[1], spec)}]" if ci else "")
            + (f" (its {cells['count']} settings: {format(cells['min'], spec)} to {format(cells['max'], spec)})"
               if cells else ""))


def _per_layer_slopes(claim: dict) -> str:
    """Each layer's slope against n_w (per seed, averaged over groups), standard init."""
    table = pd.DataFrame(claim.get("table", []))
    if table.empty:
        return ""
    per_seed = _per_seed_slopes(table[table.plateau_settled & (table.init == "standard")], "n_w")
    return ", ".join(f"{layer} {_ci(interval(g.slope))}" for layer, g in per_seed.groupby("layer"))


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
    skipped = analyze.did_not_learn(w)
    pairs = init_pairs(analyze.learned(w))
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
    if len(skipped):
        answer += f" Left out: {len(skipped)} cells (init and setting) that did not learn (over-regularized)."
    return {"status": _status(held, len(accuracy)), "answer": answer, "headline": numbers,
            "accuracy_table": accuracy.to_dict("records"), "weights_table": weights.to_dict("records")}


def _pp(h: dict) -> str:
    ci = h["ci95"]
    return f"{h['mean'] * 100:+.1f} pp" + (f" [{ci[0] * 100:+.1f}, {ci[1] * 100:+.1f}]" if ci else "")
