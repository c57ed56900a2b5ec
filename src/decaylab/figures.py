"""The study's figures (seaborn), each saved as PNG and SVG."""

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.hashsalt"] = "decaylab"  # stable SVG element ids: same data, same file
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from decaylab.analyze import SHARE_THRESHOLD, decay_share, decaying, tail_off, wide  # noqa: E402

FIGURES = {  # name: caption (report.md and Snakemake's HTML report)
    "dominance": "Claim 1, early-decay dominance: the decay term's share of each epoch's change in the squared weight "
                 "norm (top row) and the ratio of the summed decay displacement to the summed gradient displacement "
                 "(bottom row), per layer, coloured by lambda, dashed by init; mean and sd over seeds, log scale. "
                 "Dotted lines: the thresholds used in the verdict (share 0.9, ratio 1).",
    "decay_rate": "Claim 2, decay rate: measured per-epoch -ln(shrink) of each layer's weight norm divided by the "
                  "prediction eta*lambda/m, grouped by the predicted rate; 1 (black line) means the weights shrink "
                  "by exactly exp(-eta*lambda/m). Decay-dominated epochs are shown apart from the rest.",
    "tail_off": "Claim 3, tail-off size: plateau weight RMS against the number of weights n_w (log-log), with the "
                "three candidate scalings 1/sqrt(n_w) (solid), 1/n_w (dashed) and 1/sqrt(n_in) (red dotted).",
    "init_comparison": "Claim 4, init comparison: weight RMS per layer for the standard init N(0,1) with L2 against "
                       "the scaled init N(0,1/n_in) (dotted: 1/sqrt(n_in)), and validation accuracy per epoch for "
                       "both inits.",
}


def _save(fig, out_dir: Path, name: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for ext in ("png", "svg"):
        fig.savefig(out_dir / f"{name}.{ext}", dpi=110, bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)


def _empty(out_dir: Path, name: str, why: str) -> None:
    fig, ax = plt.subplots(figsize=(5, 2))
    ax.axis("off")
    ax.text(0.5, 0.5, why, ha="center", va="center", wrap=True)
    _save(fig, out_dir, name)


def dominance(w: pd.DataFrame, out_dir: Path) -> None:
    """Decay share of d|W|^2 and decay/gradient displacement ratio per epoch, by layer, lam and init."""
    d = decaying(w).copy()
    if d.empty:
        return _empty(out_dir, "dominance", "no run with lam > 0")
    d["decay share of d|W|^2"] = decay_share(d)
    d["decay / gradient displacement"] = d.disp_decay / d.disp_grad
    long = d.melt(id_vars=["epoch", "layer", "lam", "init", "seed"],
                  value_vars=["decay share of d|W|^2", "decay / gradient displacement"], var_name="reading")
    long["lam"] = long.lam.map(lambda v: f"{v:g}")
    g = sns.relplot(long, x="epoch", y="value", hue="lam", style="init", col="layer", row="reading", kind="line",
                    errorbar="sd", facet_kws={"sharey": "row"}, height=3, aspect=1.3)
    g.set(yscale="log")
    for ax in g.axes[0]:
        ax.axhline(SHARE_THRESHOLD, color="grey", lw=0.8, ls=":")
    for ax in g.axes[1]:
        ax.axhline(1, color="grey", lw=0.8, ls=":")
    _save(g.figure, out_dir, "dominance")


def decay_rate(w: pd.DataFrame, out_dir: Path) -> None:
    """Measured per-epoch log shrink of each layer's norm over the predicted eta*lam/m (1 = the claim holds)."""
    d = decaying(w).copy()
    if d.empty:
        return _empty(out_dir, "decay_rate", "no run with lam > 0")
    d["predicted -ln(shrink) = eta*lam/m"] = d.eta * d.lam / d.m
    d["measured / predicted"] = -np.log(d["shrink"]) / d["predicted -ln(shrink) = eta*lam/m"]
    d["epoch kind"] = np.where(decay_share(d) >= SHARE_THRESHOLD, "decay-dominated", "other")
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    np.random.seed(0)  # stripplot jitters with NumPy's global generator: same data, same file
    sns.stripplot(d, x="predicted -ln(shrink) = eta*lam/m", y="measured / predicted", hue="epoch kind",
                  hue_order=["decay-dominated", "other"], dodge=True, alpha=0.5, size=3, ax=ax,
                  rasterized=True)  # thousands of points: keep the SVG small
    ax.axhline(1, color="black", lw=1)
    ax.set(ylim=(-1, 2.5), title="Decay rate per epoch (1 = shrink by exp(-eta lam/m))")
    ax.legend(fontsize=8)
    _save(fig, out_dir, "decay_rate")


def tail_off_sizes(w: pd.DataFrame, out_dir: Path) -> None:
    """Plateau weight RMS against n_w (log-log), with the three candidate scalings."""
    t = tail_off(w)
    if t.empty:
        return _empty(out_dir, "tail_off", "no run with lam > 0")
    t["lam"] = t.lam.map(lambda v: f"{v:g}")
    g = sns.relplot(t, x="n_w", y="plateau_rms", hue="lam", style="init", col="layer", kind="scatter",
                    height=3.5, s=50)
    nw = np.geomspace(t.n_w.min() / 1.5, t.n_w.max() * 1.5, 50)
    for ax, layer in zip(g.axes.flat, g.col_names):
        references = [*ax.plot(nw, 1 / np.sqrt(nw), "k-", lw=1, label="1/sqrt(n_w)"),
                      *ax.plot(nw, 1 / nw, "k--", lw=1, label="1/n_w")]
        n_in = sorted(set(t[t.layer == layer].n_in))
        for v in n_in:
            ax.axhline(1 / math.sqrt(v), color="tab:red", lw=0.8, ls=":")
        ax.set(xscale="log", yscale="log", xlabel="n_w (weights in the network)", ylabel="plateau weight RMS")
        ax.legend(handles=references, fontsize=7, loc="lower left", title="red dotted: 1/sqrt(n_in)",
                  title_fontsize=7)  # lam and init are in the figure's own legend
    _save(g.figure, out_dir, "tail_off")


def init_comparison(w: pd.DataFrame, out_dir: Path) -> None:
    """Weight RMS per layer and validation accuracy per epoch for both inits (with 1/sqrt(n_in))."""
    several = w.groupby(["arm", "lam", "eta", "hidden"]).init.transform("nunique") > 1
    d = w[several].copy()
    if d.empty:
        return _empty(out_dir, "init_comparison", "no cell run with both inits")
    d["setting"] = d.apply(lambda r: f"{r.arm} lam={r.lam:g} eta={r.eta:g} h={r.hidden}", axis=1)
    layers = sorted(x for x in d.layer.unique() if x.startswith("W"))
    fig, axes = plt.subplots(1, len(layers) + 1, figsize=(4.2 * (len(layers) + 1), 3.8))
    for ax, layer in zip(axes, layers):
        sub = d[d.layer == layer]
        sns.lineplot(sub, x="epoch", y="rms", hue="setting", style="init", errorbar="sd", ax=ax, legend=False)
        for n_in in sub.n_in.unique():
            ax.axhline(1 / math.sqrt(n_in), color="grey", lw=0.8, ls=":")
        ax.set(yscale="log", title=f"{layer} weight RMS (dotted: 1/sqrt(n_in))")
    sns.lineplot(d[d.layer == "net"], x="epoch", y="acc_validation", hue="setting", style="init", errorbar="sd",
                 ax=axes[-1])
    axes[-1].set(title="validation accuracy")
    axes[-1].legend(fontsize=6)
    _save(fig, out_dir, "init_comparison")


DRAW = {"dominance": dominance, "decay_rate": decay_rate, "tail_off": tail_off_sizes,
        "init_comparison": init_comparison}


def make(names, summary: pd.DataFrame, out_dir: Path) -> None:
    """Draw the named figures (PNG and SVG) into out_dir."""
    sns.set_theme(style="whitegrid", context="paper")
    w = wide(summary)
    for name in names:
        DRAW[name](w, out_dir)
