"""Drawing helpers every claim's figure shares, so that all figures speak one language: colour is the init (in the
registry's order), line style is lambda, a column per weight layer (the whole network last), a row per other
setting; the claim's own line is a wide grey band, a reference the verdict uses is thin red, both labelled; a
band over seeds is drawn only from 3 seeds on; the title states the finding. Each claim draws its figure in its
own module (decaylab.claims); PNG and SVG, colour-blind safe.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.hashsalt"] = "decaylab"  # stable SVG element ids: same data, same file
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from decaylab.analyze import (  # noqa: E402
    interval,
)
from decaylab.inits import INITS  # noqa: E402

# every figure: colour is the init, in the registry's order (a new init needs no edit here)
INIT_PALETTE = dict(zip(INITS, sns.color_palette("colorblind", len(INITS))))


FEW_SEEDS = 3  # a mean over fewer seeds gets no band: a marker instead


def t_band(values) -> tuple[float, float]:
    """The 95 % Student-t interval of the mean over seeds (seaborn's errorbar; no bootstrap), drawn only where 3
    seeds or more remain (from 2 it spans 12.7 standard errors; fewer: mark_few_seeds)."""
    ci = interval(values)["ci95"]
    return (ci[0], ci[1]) if ci and len(values) >= FEW_SEEDS else (float(np.mean(values)),) * 2


FORMATS = ("png", "svg")  # each figure's files: PNG for the report, SVG to zoom (and to compare, as text)


def _save(fig, out_dir: Path, name: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for ext in FORMATS:
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


def _faceted(d: pd.DataFrame, x: str, y: str):
    """The house layout: colour the init, line style lambda, a column per layer (the whole network last), a row per
    other setting; mean over seeds with a 95 % band where 3 seeds or more remain."""
    d, order, _ = _lam(d)
    d["setting"] = _setting(d).where(_setting(d) != "", "all settings")
    layers = sorted(set(d.layer) - {"net"}) + ["net"] * ("net" in set(d.layer))
    g = sns.relplot(d, x=x, y=y, hue="init", hue_order=_inits(d), palette=INIT_PALETTE, style="λ", style_order=order,
                    dashes=dict(zip(order, DASHES)), row="setting", row_order=_order(d), col="layer",
                    col_order=layers, kind="line", errorbar=t_band, height=2.3, aspect=1.35,
                    facet_kws={"margin_titles": True})
    g.set_titles(row_template="{row_name}", col_template="{col_name}")
    for column, layer in zip(g.axes.T, layers):
        for ax in column:  # a deeper network's layer, in a row of shallower ones: no empty panel
            ax.set_visible(ax.has_data())
        shown = [ax for ax in column if ax.get_visible()]
        if shown:
            shown[0].set_title("whole network" if layer == "net" else layer)
    g.few_seeds = any([mark_few_seeds(g.axes_dict[key], part, x, y)
                       for key, part in d.groupby(["setting", "layer"]) if key in g.axes_dict])
    return g


def mark_few_seeds(ax, d: pd.DataFrame, x: str, y: str) -> bool:
    """A cross on each of the panel's means over fewer than FEW_SEEDS seeds (they have no band); whether any."""
    means = d.dropna(subset=[y]).groupby(["init", "λ", x])[y].agg(["mean", "count"])
    few = means[means["count"] < FEW_SEEDS].reset_index()
    if len(few):
        ax.scatter(few[x], few["mean"], marker="x", s=16, linewidths=0.9, zorder=3,
                   c=[INIT_PALETTE[i] for i in few.init])
    return len(few) > 0


FEW_SEEDS_HANDLE = (plt.Line2D([], [], color="grey", marker="x", ls=""), f"mean of < {FEW_SEEDS} seeds (no band)")


def _reference(ax, horizontal: float | None = None, vertical: float | None = None) -> None:
    """A reference the verdict uses (a threshold, a window's end): thin red, unlike any data line (the legend names
    it)."""
    if horizontal is not None:
        ax.axhline(horizontal, color="tab:red", lw=0.9, ls=(0, (6, 2)))
    if vertical is not None:
        ax.axvline(vertical, color="tab:red", lw=0.9, ls=(0, (2, 2)))


def _finish(g, title: str, extra: list) -> None:
    """The legend beside the panels with the references added, the finding as the title."""
    handles = [h for h in g.legend.legend_handles]
    labels = [t.get_text() for t in g.legend.texts]
    g.legend.remove()
    if g.few_seeds:
        extra = [*extra, FEW_SEEDS_HANDLE]
    for handle, label in extra:
        handles.append(handle)
        labels.append(label)
    g.figure.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    g.figure.suptitle(title, fontsize=10)
    g.figure.tight_layout()


def _log_ticks(axis) -> None:
    """Log-axis labels at 1, 2, 5 x 10^k as plain numbers, no crowded minor labels."""
    axis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def _inits(d: pd.DataFrame) -> list[str]:
    """The data's inits in the registry's order."""
    return [i for i in INITS if i in set(d.init)]


def _legend_outside(ax) -> None:
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def _claim_line(ax, x, y, label: str) -> None:
    """The claim's own prediction: a wide translucent grey band, unlike any data line, in the legend."""
    ax.plot(x, y, color="grey", lw=7, alpha=0.35, solid_capstyle="butt", label=label, zorder=0)


