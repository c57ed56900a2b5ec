"""The study's report.md (verdicts with their numbers, the book's examples, definitions and figures), its HTML
rendering, and what the study's MLflow parent run shows: the verdicts, headline numbers and artifacts."""

import base64
import json
import math
import os
import platform
import re
import statistics
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd

from decaylab import analyze
from decaylab.atomic import write_text
from decaylab.figures import FIGURES
from decaylab.glossary import DIVERGENCE_RULE

CLAIM_TITLES = {"1_early_decay_dominance": "Early-decay dominance", "2_decay_rate": "Decay rate",
                "3_tail_off": "Tail-off size", "4_init_comparison": "Each init + L2 against the scaled init"}
def md_table(rows: list[dict], columns: list[str]) -> str:
    def cell(v):
        if isinstance(v, float) and math.isnan(v):
            return "—"
        if isinstance(v, float):
            return f"{v:.4g}"
        if isinstance(v, list):
            return ", ".join(cell(x) for x in v) or "none"
        if isinstance(v, dict) and "mean" in v:
            return "n/a" if v["mean"] is None else f"{v['mean']:.4g} ± {v['sd']:.2g}"
        return "—" if v is None else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def machine() -> str:
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines() if ln.startswith("model name")]
        model = names[0] if names else model
    return f"{model}, {os.cpu_count()} cores, {platform.system()}"


def timing(run_jsons: list[str]) -> dict:
    runs = [json.loads(Path(p).read_text()) for p in run_jsons]
    starts = [datetime.fromisoformat(r["started_at"]) for r in runs]
    ends = [datetime.fromisoformat(r["finished_at"]) for r in runs]
    jobs = {(r["started_at"], r["wall_time_s"]) for r in runs}  # members of one job share both
    return {"training_span_s": (max(ends) - min(starts)).total_seconds(),
            "job_seconds": sum(w for _, w in jobs), "jobs": len(jobs), "devices": sorted({r["device"] for r in runs})}


def write_report(claims: dict, run_jsons: list[str], out: Path, description: str = "") -> None:
    c = claims["claims"]
    t = claims["thresholds"]
    times = timing(run_jsons)
    parts = [
        f"# decaylab: study `{claims['study']}`",
        "",
        description.strip(),
        "",
        f"- dataset: {', '.join(claims['datasets'])}; runs: {claims['runs']} in {times['jobs']} ensemble jobs "
        f"(a cell's seeds always share a job)",
        f"- machine: {machine()}; device: {', '.join(times['devices'])}",
        f"- wall time of the training phase: {times['training_span_s'] / 60:.1f} min "
        f"({times['job_seconds'] / 60:.1f} job-minutes)",
        "",
        "## Verdicts",
        "",
        "Computed from the runs by `decaylab.analyze`; nothing here is written by hand. Means ± sd over seeds.",
        "",
    ]
    dominance, rate, tail, init = (c[k] for k in ("1_early_decay_dominance", "2_decay_rate", "3_tail_off",
                                                  "4_init_comparison"))
    parts += _claim("1_early_decay_dominance", dominance, [
        ("", dominance.get("table", []), ["layer", "arm", "init", "lam", "eta", "hidden", "decay_share",
                                          "disp_ratio", "size_reading_holds", "strong_reading_holds"])])
    parts += _claim("2_decay_rate", rate, [
        ("", rate.get("table", []), ["layer", "eta", "lam", "n", "eta_lam_over_n", "epochs", "median_rel_error",
                                     "exp_vs_exact_rel_gap"])])
    parts += _claim("3_tail_off", tail, [
        ("Log-log slope of the plateau RMS against n_w (networks with one hidden layer), fitted per seed; mean "
         "and 95% interval over seeds; `consistent_with`: the scalings whose slope lies in the interval "
         "(1/sqrt(n_in) predicts 0 for W1, -1/2 after):", tail.get("slopes_vs_n_w", []),
         ["layer", "init", "lam", "eta", "n", "slope", "ci95", "seeds", "nearest", "consistent_with"]),
        ("Against lam/n, which the heuristic leaves out:", tail.get("slopes_vs_lam_over_n", []),
         ["layer", "init", "hidden", "eta", "n", "slope", "ci95", "seeds"]),
        ("Per cell (means over seeds):", _tail_rows(tail),
         ["layer", "arm", "init", "lam", "hidden", "n_w", "n_in", "tail_epoch", "rms_at_tail", "plateau_rms",
          "ratio_inv_sqrt_nw", "ratio_inv_nw", "ratio_inv_sqrt_nin"])])
    parts += _claim("4_init_comparison", init, [
        ("Weight RMS of each init against the scaled init's (means over seeds); `within 10%` is the first epoch "
         "from which the two stay within 10 % of each other, `reaches` the first epoch at or below 1/sqrt(n_in):",
         init.get("weights", []),
         ["layer", "init", "arm", "lam", "eta", "hidden", "n_in", "rms_start", "rms_end", "scaled_rms_start",
          "scaled_rms_end", "end_ratio_to_scaled", "epoch_within_10pct_of_scaled", "epoch_reaches_inv_sqrt_n_in"]),
        ("Validation accuracy (means over seeds):", init.get("accuracy", []),
         ["init", "arm", "lam", "eta", "hidden", "acc_epoch1", "acc_epoch1_scaled", "acc_final", "acc_final_scaled"])])
    if claims["book_examples"]:
        parts += ["## The book's examples", "",
                  "Accuracy on the split the book quotes; ours is on the dataset above (the book's is real MNIST).",
                  "", md_table(_book_rows(claims["book_examples"]),
                               ["arm", "init", "lam", "eta", "hidden", "n", "eta_lam_over_n", "exp(-eta lam/m)",
                                "decay-dominated early (W1, W2)", "split", "final_accuracy", "peak_accuracy",
                                "book_accuracy"]), ""]
    parts += ["## Diverged runs", "", DIVERGENCE_RULE + " Diverged runs are left out of the claims.", ""]
    parts += [f"- {r['run_dir']}" for r in claims["diverged_runs"]] or ["None."]
    parts += ["", "## Definitions", "", _definitions(t), "", "## Figures", ""]
    for name in FIGURES:
        parts += [f"![{name}](figures/{name}.png)", "", FIGURES[name], ""]
    write_text(out, "\n".join(parts))


def _claim(key: str, claim: dict, tables: list[tuple[str, list[dict], list[str]]]) -> list[str]:
    """A claim's section: heading, verdict, then each (intro, rows, columns) table that has rows."""
    lines = [f"### {key[0]}. {CLAIM_TITLES[key]}", "", claim["details"], ""]
    for intro, rows, columns in filter(lambda table: table[1], tables):
        if intro:
            lines += [intro, ""]
        lines += [md_table(rows, columns), ""]
    return lines


def _definitions(t: dict) -> str:
    """The analysis module's operational definitions with this run's threshold values filled in."""
    text = analyze.__doc__.split("\n\n", 1)[1].strip()
    names = {"EARLY_EPOCHS": "early_epochs", "SHARE_THRESHOLD": "decay_share", "RATE_TOLERANCE": "rate_tolerance",
             "PLATEAU_FRACTION": "plateau_fraction"}
    for name, key in names.items():
        text = text.replace(name, str(t[key]))
    return text


def _tail_rows(claim: dict) -> list[dict]:
    table = pd.DataFrame(claim.get("table", []))
    if table.empty:
        return []
    keys = ["layer", "arm", "init", "lam", "hidden"]
    agg = table.groupby(keys).agg(
        n_w=("n_w", "first"), n_in=("n_in", "first"), tail_epoch=("tail_epoch", "mean"),
        rms_at_tail=("rms_at_tail", "mean"), plateau_rms=("plateau_rms", "mean"),
        ratio_inv_sqrt_nw=("ratio_inv_sqrt_nw", "mean"), ratio_inv_nw=("ratio_inv_nw", "mean"),
        ratio_inv_sqrt_nin=("ratio_inv_sqrt_nin", "mean")).reset_index()
    return agg.to_dict("records")


def _book_rows(rows: list[dict]) -> list[dict]:
    out = []
    for r in rows:
        early = r["decay_dominated_early"]
        out.append({**r, "exp(-eta lam/m)": r["exp_minus_eta_lam_over_m"],
                    "decay-dominated early (W1, W2)": ", ".join(f"{k}: {'yes' if v else 'no'}"
                                                                for k, v in early.items()) or "lam = 0"})
    return out


def study_note(claims: dict, description: str) -> str:
    """The parent run's description: the study, then each claim's verdict."""
    lines = [f"**Study `{claims['study']}`** on {', '.join(claims['datasets'])}, {claims['runs']} runs. "
             + " ".join(description.split()), ""]
    for key, title in CLAIM_TITLES.items():
        lines += [f"**{key[0]}. {title}.** {claims['claims'][key]['verdict']}", ""]
    lines.append("Tables and figures: the artifact `report.html`; every number: `claims.json`.")
    return "\n".join(lines)


def claim_tags(claims: dict) -> dict[str, str]:
    """One tag per claim holding its verdict (MLflow keeps up to 5,000 characters of a tag value here)."""
    return {f"decaylab.claim{key[0]}": claims["claims"][key]["details"][:5000] for key in CLAIM_TITLES}


def headline_numbers(claims: dict) -> dict[str, float]:
    """A few numbers per claim for the runs table and charts, each computed from claims.json."""
    c, out = claims["claims"], {}
    for layer, by_lam in c["1_early_decay_dominance"].get("per_layer", {}).items():
        cells = sum(v["cells"] for v in by_lam.values())
        out[f"claim1_{layer}_share_of_cells_decay_dominated"] = sum(
            v["size_reading_holds"] for v in by_lam.values()) / cells
    rate = c["2_decay_rate"]
    if rate.get("table"):
        out["claim2_median_rate_error"] = statistics.median(r["median_rel_error"] for r in rate["table"])
    if rate.get("dead_pixel_max_log_error") is not None:
        out["claim2_dead_pixel_max_log_error"] = rate["dead_pixel_max_log_error"]
    for layer in sorted({r["layer"] for r in c["3_tail_off"].get("slopes_vs_n_w", [])}):
        out[f"claim3_{layer}_slope_vs_n_w"] = statistics.mean(
            r["slope"] for r in c["3_tail_off"]["slopes_vs_n_w"] if r["layer"] == layer)
    acc = c["4_init_comparison"].get("accuracy", [])
    for init in sorted({a["init"] for a in acc}):
        for when in ("epoch1", "final"):
            out[f"claim4_acc_{when}_scaled_minus_{init}"] = statistics.mean(
                a[f"acc_{when}_scaled"] - a[f"acc_{when}"] for a in acc if a["init"] == init)
    return out


def render_html(markdown_text: str, report_dir: Path) -> str:
    """report.md as one self-contained HTML page (figures inlined), which MLflow's artifact viewer previews."""
    from markdown_it import MarkdownIt

    text = re.sub(r"(?<=\w)\*(?=\w)", r"\\*", markdown_text)  # eta*lam is a product, not emphasis
    body = MarkdownIt("commonmark").enable("table").render(text)

    def inline(match: re.Match) -> str:
        png = (report_dir / match.group(1)).read_bytes()
        return f'src="data:image/png;base64,{base64.b64encode(png).decode()}"'

    body = re.sub(r'src="(figures/[\w.-]+\.png)"', inline, body)
    style = ("body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}table{border-collapse:collapse;"
             "font-size:85%}td,th{border:1px solid #ccc;padding:2px 6px}img{max-width:100%}")
    return f"<!doctype html><html><head><meta charset=utf-8><style>{style}</style></head><body>{body}</body></html>\n"


def publish(parent: dict, claims: dict, description: str, params: dict, report_md: Path, html_out: Path,
            files: list[Path]) -> None:
    """Render report.md to HTML and make the study's MLflow parent run its home page (see tracking.publish_study)."""
    from decaylab.tracking import publish_study

    write_text(html_out, render_html(report_md.read_text(), report_md.parent))
    try:
        publish_study(parent, study_note(claims, description), params, claim_tags(claims),
                      headline_numbers(claims), [report_md, html_out, *files])
    except Exception as exc:  # the report is written; the store is only its view
        print(f"decaylab: report written, not published to MLflow ({type(exc).__name__}: {exc}); publish it "
              "once the store is back: snakemake --forcerun report", file=sys.stderr)
