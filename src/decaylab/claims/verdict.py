"""What every claim's verdict is made of, and what a claim module offers.

Status: `holds` (in every setting the study tests), `holds-conditionally` (in some: the answer names where),
`fails` (in none), `not-testable` (the runs cannot test it: the reason is the answer). Each headline number is a
mean over seeds with its 95 % Student-t interval; over several settings also the settings' range.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from decaylab.analyze import interval


@dataclass(frozen=True)
class Claim:
    """One claim, in the module that is its home: what report, readme, MLflow and Snakemake read."""

    key: str  # its key in claims.json, numbered in the book's order
    title: str
    statement: str  # the book's words
    figure: str  # the figure's file name
    caption: str
    measure: Callable[[pd.DataFrame, pd.DataFrame], dict]  # (per-epoch table w, runs) -> its tables
    judge: Callable[[dict, pd.DataFrame, dict], dict]  # (its tables, w, every claim's tables) -> the verdict
    draw: Callable[[pd.DataFrame, Path, pd.DataFrame | None], None]  # (w, folder, runs) -> its figure
    tables: Callable[[dict], list[tuple[str, list[dict], list[str]]]]  # the report's tables
    thresholds: dict = field(default_factory=dict)  # name: value, printed with the report's definitions
    collapsed: bool = False  # whether it reads the runs that learned nothing too (a claim about weights alone)


def headline(name: str, per_seed, unit: str = "", cells: pd.Series | None = None, metric: str = "") -> dict:
    """A number over seeds (mean, 95 % interval); over several settings also the range of their means. `metric`:
    its short name in MLflow (claim<k>/<metric>)."""
    out = {"name": name, "metric": metric, **interval(per_seed), "unit": unit}
    if cells is not None and len(cells) > 1:
        means = [h["mean"] for h in cells if h["mean"] is not None]
        out["cells"] = {"count": len(means), "min": min(means), "max": max(means)}
    return out


def _status(held: int, tested: int) -> str:
    return "holds" if held == tested else "fails" if held == 0 else "holds-conditionally"


def not_testable(reason: str) -> dict:
    return {"status": "not-testable", "answer": f"Not testable here: {reason}.", "headline": []}


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


def _settings(count: int) -> str:
    return f"{count} setting{'s' * (count != 1)}"


def _ci(h: dict, spec: str = "+.2f") -> str:
    """mean [95 % interval], and the settings' range where the number is over several."""
    ci, cells = h["ci95"], h.get("cells")
    return (format(h["mean"], spec) + (f" [{format(ci[0], spec)}, {format(ci[1], spec)}]" if ci else "")
            + (f" (its {cells['count']} settings: {format(cells['min'], spec)} to {format(cells['max'], spec)})"
               if cells else ""))


def _pp(h: dict) -> str:
    ci = h["ci95"]
    return f"{h['mean'] * 100:+.1f} pp" + (f" [{ci[0] * 100:+.1f}, {ci[1] * 100:+.1f}]" if ci else "")


def judged_count(table: list[dict], held: str) -> str:
    """k/N over the claim's judged settings: standard init, the whole network, resolved windows."""
    mine = [r for r in table if r["init"] == "standard" and r["layer"] == "net" and r["resolved"]]
    return f"{sum(r[held] for r in mine)}/{len(mine)}"


