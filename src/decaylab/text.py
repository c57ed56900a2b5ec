"""Numbers and tables as the reports print them: a headline as `mean [lo, hi]` in its unit, markdown tables."""

import math


def md_table(rows: list[dict], columns: list[str]) -> str:
    def cell(v):
        if isinstance(v, float) and math.isnan(v):
            return "—"
        if isinstance(v, float):
            return f"{v:.4g}"
        if isinstance(v, list):
            return ", ".join(cell(x) for x in v) or "none"
        if isinstance(v, dict) and "ci95" in v:
            return interval_text(v)
        if isinstance(v, dict) and "mean" in v:
            return "n/a" if v["mean"] is None else f"{v['mean']:.4g} ± {v['sd']:.2g}"
        return "—" if v is None else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)).replace("|", "\\|") for c in columns) + " |" for r in rows]
    return "\n".join(lines)


UNITS = {"accuracy": (100, " pp"), "percent": (100, " %")}  # unit: (scale, suffix)


def interval_text(h: dict, digits: int = 3) -> str:
    """A headline number as `mean [lo, hi]` (unit `accuracy`: a gap in percentage points; `percent`: in %)."""
    if h["mean"] is None:
        return "n/a"
    scale = UNITS.get(h.get("unit"), (1, ""))[0]
    ci = h["ci95"]
    text = number_text(h["mean"], h.get("unit"), digits)
    return text + (f" [{ci[0] * scale:.{digits}g}, {ci[1] * scale:.{digits}g}]" if ci else " (one seed)")


def number_text(value: float, unit: str | None = None, digits: int = 3) -> str:
    """A number in its unit (`accuracy`: a gap in percentage points; `percent`: in %)."""
    scale, suffix = UNITS.get(unit, (1, ""))
    return f"{value * scale:.{digits}g}{suffix}"


