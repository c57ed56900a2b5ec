"""One figure per claim (seaborn), each saved as PNG and SVG, drawn to show that claim.

Every figure keeps apart the settings a claim distinguishes: layers and inits are panels, lambda is the colour,
and whatever else varies in the study (eta, width, arm) is the line style or its own row; seeds are averaged
(mean and 95 % band). Palettes are colour-blind safe (viridis for lambda, seaborn's `colorblind` for inits).
"""

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.hashsalt"] = "decaylab"  # stable SVG element ids: same data, same file
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from decaylab.analyze import (  # noqa: E402
    EARLY_EPOCHS,
    SHARE_THRESHOLD,
    decay_share,
    decaying,
    interval,
    one_hidden_layer,
    t95,
    tail_off,
    wide,
)
from decaylab.data import REAL_DIGITS  # noqa: E402

FIGURES = {  # name: caption (report.md and Snakemake's HTML report)
    "dominance": "Claim 1, early-decay dominance: the decay term's share of each epoch's change of |W|^2 in the "
                 "first epochs, per layer (rows) and init (columns); colour: lambda, line style: the study's other "
                 "settings; mean and 95% band over seeds. Dotted: the threshold 0.9 of the verdict.",
    "decay_rate": "Claim 2, decay rate as a data collapse: ln(RMS_t / RMS_0) of each layer's weights against "
                  "tau = t*eta*lambda/m, every setting with lambda > 0 (mean over seeds). Black: -tau, the claim's "
                  "exp(-eta*lambda/m) per epoch. Decay-dominated weights lie on it until they tail off.",
    "tail_off": "Claim 3, tail-off size: plateau weight RMS against the number of weights n_w (one-hidden-layer "
                "networks, a row per lambda/n) and against lambda/n (last row), log-log, one point per run. Black: "
                "the fitted power law with its 95% band; grey: 1/sqrt(n_w) (solid), 1/n_w (dashed) and "
                "1/sqrt(n_in) (dotted), each with its best-fitting prefactor.",
    "init_comparison": "Claim 4, init comparison in the manner of the book's plot: validation accuracy per epoch "
                       "(axis zoomed to the data) and weight RMS per layer (log; dotted: 1/sqrt(n_in)), standard "
                       "against scaled (colour), a row per setting, line style: lambda; mean and 95% band over "
                       "seeds. Red dashes: the book's reported accuracy, where the setting has one and the data are "
                       "real digits.",
}
INIT_PALETTE = dict(zip(("standard", "scaled", "glorot", "he"), sns.color_palette("colorblind", 4)))
INIT_MARKERS = dict(zip(INIT_PALETTE, ("X", "o", "s", "P")))


def t_band(values) -> tuple[float, float]:
    """The 95 % Student-t interval of the mean over seeds (seaborn's errorbar; no bootstrap)."""
    ci = interval(values)["ci95"]
    return (ci[0], ci[1]) if ci else (float(np.mean(values)),) * 2


def _save(fig, out_dir: Path, name: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for ext in ("png", "svg"):
        fig.savefig(out_dir / f"{name}.{ext}", dpi=110, bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)


def _empty(out_dir: Path, name: str, why: str) -> None:
    fig, ax = plt.subplots(figsize=(5, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, f"Not testable here: {why}", ha="center", va="center", wrap=True)
    _save(fig, out_dir, name)


def _lam(d: pd.DataFrame) -> pd.DataFrame:
    """lambda as an ordered label with a viridis colour per value."""
    order = [f"{v:g}" for v in sorted(d.lam.unique())]
    return d.assign(**{"λ": d.lam.map(lambda v: f"{v:g}")}), order, dict(zip(order, sns.color_palette("viridis",
                                                                                                      len(order))))


def _setting(d: pd.DataFrame) -> pd.Series:
    """What else varies in the study besides lambda and init, as a label: eta and width where they vary, and the
    arm where two arms share them (say, n differs); empty when nothing else varies."""
    keys = [k for k in ("eta", "hidden") if d[k].nunique() > 1]
    if d.groupby(["eta", "hidden", "lam", "init"]).arm.nunique().max() > 1:
        keys.append("arm")
    if not keys:
        return pd.Series("", index=d.index)
    names = {"eta": "η=", "hidden": "h=", "arm": ""}
    return d[keys].apply(lambda r: ", ".join(f"{names[k]}{r[k]:g}" if isinstance(r[k], float) else f"{names[k]}{r[k]}"
                                             for k in keys), axis=1)


def _order(d: pd.DataFrame) -> list[str]:
    """The settings by eta, then network size."""
    return list(d.sort_values(["eta", "n_w", "arm"]).setting.unique())


def dominance(w: pd.DataFrame, out_dir: Path, runs=None) -> None:
    """Decay share of d|W|^2 per epoch over the first epochs, per layer and init."""
    d = decaying(w)
    if d.empty:
        return _empty(out_dir, "dominance", "no run with lam > 0")
    last = max(EARLY_EPOCHS, min(10, int(d.epoch.max())))
    d = d[d.epoch <= last].copy()
    d["decay share"] = decay_share(d)
    d["panel"] = d.layer + " · " + d.init + " init"
    d, order, palette = _lam(d)
    d["setting"] = _setting(d)
    styled = d.setting.nunique() > 1
    g = sns.relplot(d, x="epoch", y="decay share", hue="λ", hue_order=order, palette=palette,
                    style="setting" if styled else None, style_order=_order(d) if styled else None, row="layer",
                    col="init", kind="line", errorbar=t_band,
                    height=2.4, aspect=1.5, facet_kws={"margin_titles": True})
    g.set_titles(row_template="{row_name}", col_template="{col_name} init")
    g.set(ylim=(0, 1.02), xlim=(0.7, last + 0.3))
    for ax in g.axes.flat:
        ax.axhline(SHARE_THRESHOLD, color="black", lw=0.8, ls=":")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    _save(g.figure, out_dir, "dominance")


def decay_rate(w: pd.DataFrame, out_dir: Path, runs=None) -> None:
    """ln(RMS_t / RMS_0) against tau = t*eta*lam/m per layer (columns) and init (rows); -tau drawn."""
    d = decaying(w, trained=False).copy()
    if d.empty:
        return _empty(out_dir, "decay_rate", "no run with lam > 0")
    start = d[d.epoch == 0].set_index(["arm", "init", "lam", "eta", "hidden", "seed", "layer"]).rms
    d = d.join(start.rename("rms0"), on=["arm", "init", "lam", "eta", "hidden", "seed", "layer"])
    d["τ = epoch · ηλ/m"] = d.epoch * d.eta * d.lam / d.m
    d["ln(RMS_t / RMS_0)"] = np.log(d.rms / d.rms0)
    top = min(6.0, float(d["τ = epoch · ηλ/m"].max()))
    d = d[d["τ = epoch · ηλ/m"] <= top * 1.05]
    d, order, palette = _lam(d)
    d["setting"] = _setting(d)
    g = sns.relplot(d, x="τ = epoch · ηλ/m", y="ln(RMS_t / RMS_0)", hue="λ", hue_order=order, palette=palette,
                    style="setting" if d.setting.nunique() > 1 else None,
                    style_order=_order(d) if d.setting.nunique() > 1 else None, row="init", col="layer", kind="line",
                    errorbar=None, height=2.4, aspect=1.4, facet_kws={"margin_titles": True})
    g.set_titles(row_template="{row_name} init", col_template="{col_name}")
    tau = np.linspace(0, top, 50)
    y = d["ln(RMS_t / RMS_0)"]
    low, high = max(-top * 1.05, y.min() - 0.2), min(max(0.3, y.max() + 0.1), 1.5)
    for ax in g.axes.flat:
        ax.plot(tau, -tau, color="black", lw=1.5, zorder=0, label="−τ")
        ax.set(xlim=(0, top), ylim=(low, high))
    _save(g.figure, out_dir, "decay_rate")


def _log_panel(ax, t: pd.DataFrame, x: str, hue: str, palette, references: bool) -> None:
    """Points per run, the fitted power law with its 95 % band (over the points), and the three scalings."""
    sns.scatterplot(t, x=x, y="plateau_rms", hue=hue, palette=palette, style="init", markers=INIT_MARKERS, ax=ax,
                    s=28, legend=False)
    lx, ly = np.log10(t[x].to_numpy(float)), np.log10(t.plateau_rms.to_numpy(float))
    if len(np.unique(lx)) >= 2:
        slope, icept = np.polyfit(lx, ly, 1)
        grid = np.linspace(lx.min(), lx.max(), 30)
        resid = ly - (slope * lx + icept)
        se = math.sqrt(resid @ resid / max(len(lx) - 2, 1))
        spread = se * np.sqrt(1 / len(lx) + (grid - lx.mean()) ** 2 / ((lx - lx.mean()) ** 2).sum())
        half = t95(max(len(lx) - 2, 1)) * spread
        fit = slope * grid + icept
        ax.plot(10**grid, 10**fit, color="black", lw=1.2, label=f"fit: slope {slope:+.2f}")
        ax.fill_between(10**grid, 10 ** (fit - half), 10 ** (fit + half), color="black", alpha=0.12, lw=0)
    if references:
        xs = np.geomspace(t[x].min(), t[x].max(), 30)
        n_in = t.n_in.astype(float).to_numpy()
        for label, ls, shape in (("1/sqrt(n_w)", "-", lambda v: v**-0.5), ("1/n_w", "--", lambda v: 1 / v)):
            prefactor = math.exp(np.mean(np.log(t.plateau_rms) - np.log(shape(t[x].to_numpy(float)))))
            ax.plot(xs, prefactor * shape(xs), color="grey", ls=ls, lw=1, label=f"{prefactor:.3g}·{label}")
        prefactor = math.exp(np.mean(np.log(t.plateau_rms) - np.log(n_in**-0.5)))
        ax.plot(t[x], prefactor * n_in**-0.5, color="grey", ls=":", lw=1, label=f"{prefactor:.3g}·1/sqrt(n_in)")
    ax.set(xscale="log", yscale="log")
    _log_ticks(ax.yaxis)
    ax.legend(fontsize=6, loc="best")


def _log_ticks(axis) -> None:
    """Log-axis labels at 1, 2, 5 x 10^k as plain numbers, no crowded minor labels."""
    axis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%.2g"))
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def tail_off_sizes(w: pd.DataFrame, out_dir: Path, runs=None) -> None:
    """Plateau weight RMS against n_w per lambda/n, and against lambda/n, per layer; log-log."""
    t = tail_off(w)
    if t.empty:
        return _empty(out_dir, "tail_off", "no run with lam > 0")
    t = t.assign(lam_over_n=t.lam / t.n)
    single = one_hidden_layer(t)
    layers = sorted((single if single.n_w.nunique() > 1 else t).layer.unique())
    rows = [("n_w", v, single[single.lam_over_n == v]) for v in sorted(single.lam_over_n.unique())
            if single[single.lam_over_n == v].n_w.nunique() > 1]
    if t.lam_over_n.nunique() > 1:
        rows.append(("lam_over_n", None, t))
    if not rows:
        return _empty(out_dir, "tail_off", "one network size and one lambda/n: nothing to fit")
    colour = "n_w" if t.n_w.nunique() > 1 else "eta"  # the other setting the lambda/n panels keep apart
    levels = sorted(t[colour].unique())
    palette = dict(zip(levels, sns.color_palette("viridis", len(levels))))
    fig, axes = plt.subplots(len(rows), len(layers), figsize=(3.6 * len(layers), 2.9 * len(rows)), squeeze=False)
    for (x, value, sub), row_axes in zip(rows, axes):
        for layer, ax in zip(layers, row_axes):
            mine = sub[sub.layer == layer]
            if mine[x].nunique() < 2:  # e.g. W3 against n_w: only the deep network has it
                ax.axis("off")
                ax.text(0.5, 0.5, f"{layer}: one {'n_w' if x == 'n_w' else 'λ/n'} only", ha="center", va="center")
                continue
            if x == "n_w":
                _log_panel(ax, mine, "n_w", "init", INIT_PALETTE, references=True)
                ax.set(title=f"{layer} · λ/n = {value:.3g}", xlabel="n_w (weights in the network)")
            else:
                _log_panel(ax, mine, "lam_over_n", colour, palette, references=False)
                ax.set(title=f"{layer} · colour: {'n_w' if colour == 'n_w' else 'η'} "
                             f"{levels[0]:g} (dark) to {levels[-1]:g} (light)", xlabel="λ/n")
            ax.set_ylabel("plateau weight RMS")
    inits = sorted(t.init.unique())
    handles = [plt.Line2D([], [], marker=INIT_MARKERS[i], ls="", color="grey", label=f"{i} init") for i in inits]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    _save(fig, out_dir, "tail_off")


def init_comparison(w: pd.DataFrame, out_dir: Path, runs: pd.DataFrame | None = None) -> None:
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
    dashes = dict(zip(order, ["", (4, 2), (1, 1), (6, 2, 1, 2), (2, 4)]))
    for i, (setting, row) in enumerate(zip(settings, axes)):
        mine = d[d.setting == setting]
        acc = mine[(mine.layer == "net") & (mine.epoch >= 1)]
        sns.lineplot(acc, x="epoch", y="acc_validation", hue="init", palette=INIT_PALETTE, style="λ",
                     style_order=order, dashes=dashes, errorbar=t_band, ax=row[0], legend=i == 0)
        means = acc.groupby(["init", "λ", "epoch"]).acc_validation.mean()
        low, high = means.min(), means.max()
        marks = _book_marks(runs, mine)
        for value in marks:
            row[0].axhline(value, color="tab:red", lw=1, ls="--")
        high = max([high, *marks])
        row[0].set(ylim=(low - 0.1 * (high - low), high + 0.1 * (high - low)), ylabel="validation accuracy",
                   title=setting or "validation accuracy")
        for layer, ax in zip(layers, row[1:]):
            rms = mine[mine.layer == layer]
            if rms.empty:  # a deeper network's layer, in a row of shallower ones
                ax.axis("off")
                continue
            sns.lineplot(rms, x="epoch", y="rms", hue="init", palette=INIT_PALETTE, style="λ", style_order=order,
                         dashes=dashes, errorbar=t_band, ax=ax, legend=False)
            for n_in in rms.n_in.dropna().unique():
                ax.axhline(1 / math.sqrt(n_in), color="grey", lw=0.8, ls=":")
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
        fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
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


DRAW = {"dominance": dominance, "decay_rate": decay_rate, "tail_off": tail_off_sizes,
        "init_comparison": init_comparison}


def make(names, summary: pd.DataFrame, out_dir: Path, runs: pd.DataFrame | None = None) -> None:
    """Draw the named figures (PNG and SVG) into out_dir; runs (runs.csv) adds the book's reported accuracies."""
    sns.set_theme(style="whitegrid", context="paper")
    w = wide(summary)
    for name in names:
        DRAW[name](w, out_dir, runs)
