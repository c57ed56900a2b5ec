"""What several claims share: the per-epoch table of a study's runs, the decay term's share, "the first epochs"
in decay time, Student-t intervals over seeds, and the settings that did not learn. Each claim's own definitions
and thresholds are in its module (decaylab.claims).

- decay share: |decay| / (|decay| + |drift| + |noise|) of an epoch's summed change of |W|^2.
- first epochs: those ending within decay time tau = epochs x eta*lam/m <= DECAY_WINDOW (at least the first;
  where eta*lam/m > DECAY_WINDOW the window ends inside epoch 1, which per-epoch measurements do not resolve).
- unstable: a setting whose seeds disagree about learning (some collapsed or diverged, some not); left out of
  every claim as a whole setting and named in the report.
- did not learn (over-regularized): a setting whose final validation accuracy is below LEARNED_FRACTION of the
  study's best; left out of claims 3 and 4 and counted.
"""

import math

import numpy as np
import pandas as pd

DECAY_WINDOW = 1.0  # "the first epochs": until the decay time epochs x eta*lam/m reaches one e-fold
LEARNED_FRACTION = 0.5  # a setting learned when its final validation accuracy is at least half the study's best
CELL_KEYS = ["arm", "init", "lam", "eta", "hidden"]
RUN_KEYS = [*CELL_KEYS, "seed"]
RUN_INFO = ["n", "m", "epochs", "n_w", "sizes"]


def unstable_cells(runs: pd.DataFrame) -> pd.DataFrame:
    """The settings (CELL_KEYS) whose seeds disagree about learning: some runs collapsed or diverged, some not (a
    chaotic corner, where float rounding decides); runs: one row per run, or the summary's rows."""
    fate = runs.drop_duplicates(RUN_KEYS).assign(failed=lambda d: d.collapsed | d.diverged)
    mixed = fate.groupby(CELL_KEYS).failed.nunique()
    return mixed[mixed > 1].reset_index()[CELL_KEYS]


def without(table: pd.DataFrame, rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """table without its rows whose `keys` match a row of `rows`."""
    out = rows[keys].drop_duplicates().assign(_out=True)
    return table[table.merge(out, on=keys, how="left")._out.isna().to_numpy()]


def stable(runs: pd.DataFrame) -> pd.DataFrame:
    """runs (or any table with CELL_KEYS) without the unstable settings, whole."""
    return without(runs, unstable_cells(runs), CELL_KEYS)


def wide(summary: pd.DataFrame, collapsed: bool = False) -> pd.DataFrame:
    """One row per run x epoch x layer, one column per metric, and n_in per weight layer (unstable settings left
    out whole, diverged runs too, and collapsed ones unless asked for)."""
    summary = stable(summary)
    ok = summary[~summary.diverged & (collapsed | ~summary.collapsed)]
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
    return without(w, did_not_learn(w), CELL_KEYS)


def decay_share(w: pd.DataFrame) -> pd.Series:
    """|decay| / (|decay| + |drift| + |noise|): the decay term's share of each epoch's change of |W|^2."""
    return w.decay.abs() / (w.decay.abs() + w.drift.abs() + w.noise.abs())


def window_end(d: pd.DataFrame) -> pd.Series:
    """The last epoch of "the first epochs": those that end within decay time tau = epochs x eta*lam/m <=
    DECAY_WINDOW (one e-fold of pure decay), at least the first."""
    return np.maximum(1, np.floor(DECAY_WINDOW / (d.eta * d.lam / d.m) + 1e-9)).astype(int)


def t95(df: int) -> float:
    """Two-sided 95% quantile of Student's t with df degrees of freedom."""
    from scipy.stats import t

    return float(t.ppf(0.975, df))


def _span(values, spec: str = ".2f") -> str:
    """'lo to hi' of some numbers (one number when they print the same)."""
    v = sorted(values)
    lo, hi = format(v[0], spec), format(v[-1], spec)
    return lo if lo == hi else f"{lo} to {hi}"


def interval(values) -> dict:
    """Mean and 95 % t-interval over seeds (one value per seed); no interval from a single seed."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if len(v) == 0:
        return {"mean": None, "ci95": None, "seeds": 0}
    if len(v) == 1:
        return {"mean": float(v[0]), "ci95": None, "seeds": 1}
    half = t95(len(v) - 1) * float(v.std(ddof=1)) / math.sqrt(len(v))
    return {"mean": float(v.mean()), "ci95": [float(v.mean() - half), float(v.mean() + half)], "seeds": len(v)}


