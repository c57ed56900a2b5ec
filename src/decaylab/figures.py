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
    DECAY_WINDOW,
    RUN_KEYS,
    SHARE_THRESHOLD,
    claim_decay_rate,
    claim_dominance,
    decay_share,
    decaying,
    interval,
    learned,
    network_law,
    network_plateaus,
    wide,
    with_network,
)
from decaylab.data import REAL_DIGITS  # noqa: E402
from decaylab.inits import INITS  # noqa: E402
from decaylab.verdicts import SAME_ACCURACY, init_cells, init_pairs  # noqa: E402

FIGURES = {  # name: caption (report.md and Snakemake's HTML report)
    "dominance": "Claim 1, early-decay dominance: the decay term's share of each epoch's change of |W|^2 in the "
                 "first epochs, per layer (rows) and init (columns); colour: lambda, line style: the study's other "
                 "settings; mean and 95% band over seeds. Dotted: the threshold 0.9 of the verdict.",
    "decay_rate": "Claim 2, decay rate as a data collapse: ln(RMS_t / RMS_0) of each layer's weights against "
                  "tau = t*eta*lambda/m, every setting with lambda > 0 (mean over seeds). Black: -tau, the claim's "
                  "exp(-eta*lambda/m) per epoch. Decay-dominated weights lie on it until they tail off.",
    "tail_off": "Claim 3, tail-off size, on the whole network (n_w = all its weights): left, its weight RMS x "
                "sqrt(n_w) over training, mean over seeds, colour: init, line style: lambda (1 = the claim's size); "
                "right, where the study has several network sizes, each settled run's plateau RMS against n_w "
                "(log-log) with the verdict's own fit per setting. Grey band: the claim, 1/sqrt(n_w).",
    "init_comparison": "Claim 4, init comparison in the manner of the book's plot: validation accuracy per epoch "
                       "(axis zoomed to the data) and weight RMS per layer (log; dotted: 1/sqrt(n_in)), standard "
                       "against scaled (colour), a row per setting, line style: lambda; mean and 95% band over "
                       "seeds. Red dashes: the book's reported accuracy, where the setting has one and the data are "
                       "real digits.",
}
# every figure: colour is the init, in the registry's order (a new init needs no edit here)
INIT_PALETTE = dict(zip(INITS, sns.color_palette("colorblind", len(INITS))))


def t_band(values) -> tuple[float, float]:
    """The 95 % Student-t interval of the mean over seeds (seaborn's errorbar; no bootstrap), drawn only where 3
    seeds or more remain (from 2 it spans 12.7 standard errors)."""
    ci = interval(values)["ci95"]
    return (ci[0], ci[1]) if ci and len(values) >= 3 else (float(np.mean(values)),) * 2


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


DASHES = ["", (4, 2), (1, 1.5), (6, 2, 1, 2), (2, 4), (8, 3)]  # line style: lambda, in increasing order


def _faceted(d: pd.DataFrame, x: str, y: str, **kwargs):
    """The house layout: colour the init, line style lambda, a column per layer (the whole network last), a row per
    other setting; mean over seeds with a 95 % band where 3 seeds or more remain."""
    d, order, _ = _lam(d)
    d["setting"] = _setting(d).where(_setting(d) != "", "all settings")
    layers = sorted(set(d.layer) - {"net"}) + ["net"] * ("net" in set(d.layer))
    g = sns.relplot(d, x=x, y=y, hue="init", hue_order=_inits(d), palette=INIT_PALETTE, style="λ", style_order=order,
                    dashes=dict(zip(order, DASHES)), row="setting", row_order=_order(d), col="layer",
                    col_order=layers, kind="line", errorbar=t_band, height=2.3, aspect=1.35,
                    facet_kws={"margin_titles": True}, **kwargs)
    g.set_titles(row_template="{row_name}", col_template="{col_name}")
    for ax, layer in zip(g.axes[0], layers):
        ax.set_title("whole network" if layer == "net" else layer)
    return g


def _reference(ax, horizontal: float | None = None, vertical: float | None = None, label: str = "") -> None:
    """A reference the verdict uses (a threshold, a window's end): thin red, unlike any data line, labelled."""
    if horizontal is not None:
        ax.axhline(horizontal, color="tab:red", lw=0.9, ls=(0, (6, 2)), label=label)
    if vertical is not None:
        ax.axvline(vertical, color="tab:red", lw=0.9, ls=(0, (2, 2)), label=label)


def _finish(g, title: str, extra: list) -> None:
    """The legend beside the panels with the references added, the finding as the title."""
    handles = [h for h in g.legend.legend_handles]
    labels = [t.get_text() for t in g.legend.texts]
    g.legend.remove()
    for handle, label in extra:
        handles.append(handle)
        labels.append(label)
    g.figure.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    g.figure.suptitle(title, fontsize=10)
    g.figure.tight_layout()


def _count(table: list[dict], held: str) -> str:
    """k/N over the claim's judged settings: standard init, the whole network, resolved windows."""
    mine = [r for r in table if r["init"] == "standard" and r["layer"] == "net" and r["resolved"]]
    return f"{sum(r[held] for r in mine)}/{len(mine)}"


def dominance(w: pd.DataFrame, out_dir: Path, runs=None) -> None:
    """Each epoch's decay share of the change of |W|^2 against decay time, per layer and the whole network."""
    d = decaying(w)
    if d.empty:
        return _empty(out_dir, "dominance", "no run with lam > 0")
    d = with_network(d)
    d["τ = epochs · ηλ/m"] = d.epoch * d.eta * d.lam / d.m
    d = d[d["τ = epochs · ηλ/m"] <= 10 * DECAY_WINDOW].assign(**{"decay share": decay_share})
    g = _faceted(d, "τ = epochs · ηλ/m", "decay share")
    g.set(xscale="log", ylim=(0, 1.03))
    for ax in g.axes.flat:
        _reference(ax, horizontal=SHARE_THRESHOLD)
        _reference(ax, vertical=DECAY_WINDOW)
    extra = [(plt.Line2D([], [], color="tab:red", lw=0.9, ls=(0, (6, 2))), f"threshold {SHARE_THRESHOLD:g}"),
             (plt.Line2D([], [], color="tab:red", lw=0.9, ls=(0, (2, 2))), f"end of the first epochs, τ = "
                                                                           f"{DECAY_WINDOW:g}")]
    count = _count(claim_dominance(w)["table"], "size_reading_holds")
    _finish(g, f"Claim 1: decay dominates the standard init's first epochs in {count} settings (whole network)",
            extra)
    _save(g.figure, out_dir, "dominance")


def decay_rate(w: pd.DataFrame, out_dir: Path, runs=None) -> None:
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
    count = _count(claim_decay_rate(w)["table"], "holds")
    _finish(g, f"Claim 2: the standard init's network shrinks by exp(-ηλ/m) per epoch in {count} settings", extra)
    _save(g.figure, out_dir, "decay_rate")


def _log_ticks(axis) -> None:
    """Log-axis labels at 1, 2, 5 x 10^k as plain numbers, no crowded minor labels."""
    axis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def _span(values: list[float], spec: str) -> str:
    low, high = format(values[0], spec), format(values[-1], spec)
    return low if low == high else f"({low} to {high})"


def _inits(d: pd.DataFrame) -> list[str]:
    """The data's inits in the registry's order."""
    return [i for i in INITS if i in set(d.init)]


def _legend_outside(ax) -> None:
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def _claim_line(ax, x, y, label: str) -> None:
    """The claim's own prediction: a wide translucent grey band, unlike any data line, in the legend."""
    ax.plot(x, y, color="grey", lw=7, alpha=0.35, solid_capstyle="butt", label=label, zorder=0)


def tail_off_sizes(w: pd.DataFrame, out_dir: Path, runs=None) -> None:
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
    dashes, book_shown = dict(zip(order, DASHES)), False
    for i, (setting, row) in enumerate(zip(settings, axes)):
        mine = d[d.setting == setting]
        acc = mine[(mine.layer == "net") & (mine.epoch >= 1)]
        sns.lineplot(acc, x="epoch", y="acc_validation", hue="init", hue_order=_inits(d), palette=INIT_PALETTE,
                     style="λ", style_order=order, dashes=dashes, errorbar=t_band, ax=row[0], legend=i == 0)
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


DRAW = {"dominance": dominance, "decay_rate": decay_rate, "tail_off": tail_off_sizes,
        "init_comparison": init_comparison}


def make(names, summary: pd.DataFrame, out_dir: Path, runs: pd.DataFrame | None = None) -> None:
    """Draw the named figures (PNG and SVG) into out_dir; runs (runs.csv) adds the book's reported accuracies."""
    sns.set_theme(style="whitegrid", context="paper")
    w = wide(summary)
    for name in names:
        DRAW[name](w, out_dir, runs)
