"""The study's report.md (verdicts with their numbers, the book's examples, definitions and figures), its HTML
rendering, and what the study's MLflow parent run shows: the verdicts, headline numbers and artifacts."""

import base64
import importlib
import json
import os
import platform
import re
import sys
from datetime import datetime
from pathlib import Path

from decaylab.atomic import write_text
from decaylab.claims import CLAIM_TITLES, CLAIMS, book
from decaylab.claims.verdict import Claim
from decaylab.glossary import COLLAPSE_RULE, DIVERGENCE_RULE
from decaylab.outputs import git_commit
from decaylab.text import interval_text, md_table, number_text


def figure_labels(figure: str, study_key: str) -> dict[str, str]:
    """How Snakemake's report lists a figure: its claim (number and title), the study and dataset."""
    claim = next(claim for claim in CLAIMS if claim.figure == figure)
    return {"claim": f"{claim.key[0]}. {claim.title}", "study": study_key, "figure": figure}


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


STATUS_MARK = {"holds": "✅ holds", "holds-conditionally": "🟡 holds conditionally", "fails": "❌ fails",
               "not-testable": "⚪ not testable"}


def _cells_text(h: dict) -> str:
    """The between-setting range of a headline averaged over several settings."""
    if "cells" not in h:
        return ""
    c = h["cells"]
    return (f"; its {c['count']} settings range from {number_text(c['min'], h.get('unit'))} to "
            f"{number_text(c['max'], h.get('unit'))}")


def verdict_rows(claims: dict) -> list[dict]:
    """One row per claim: title, status, answer, its first headline number with the 95 % interval."""
    rows = []
    for key, title in CLAIM_TITLES.items():
        claim = claims["claims"][key]
        first = claim["headline"][0] if claim["headline"] else None
        rows.append({"claim": f"{key[0]}. {title}", "status": claim["status"], "answer": claim["answer"],
                     "key number (95% interval over seeds)":
                         f"{first['name']}: {interval_text(first)}" if first else "—"})
    return rows


def setting_lines(claims: dict, params: dict) -> list[str]:
    """The study's setting in two lines."""
    return [f"{params['study']} on **{params['dataset']}**: arms {params['arms']}; init {params['init']}; "
            f"λ = {params['lam']}; η = {params['eta']}; hidden {params['hidden']}; n = {params['n']}; "
            f"m = {params['m']}; epochs {params['epochs']}; seeds {params['seeds']} ({claims['runs']} runs).",
            "Every number below is computed from the runs by `decaylab.claims` (one module per claim); "
            "intervals are 95 % Student-t intervals over seeds."]


def write_report(claims: dict, run_jsons: list[str], out: Path, description: str = "", params: dict | None = None,
                 skipped: dict | None = None) -> None:
    c = claims["claims"]
    times = timing(run_jsons)
    params = params or {}
    parts = [f"# decaylab: `{claims['study']}` on {', '.join(claims['datasets'])}", "",
             *(setting_lines(claims, params) if params else []), "",
             md_table([{**r, "status": STATUS_MARK[r["status"]]} for r in verdict_rows(claims)],
                      ["claim", "status", "answer", "key number (95% interval over seeds)"]), ""]
    left_out = [f"{len(claims[k])} {k.split('_')[0]} runs" for k in ("diverged_runs", "collapsed_runs") if claims[k]]
    unstable = claims.get("unstable_cells", [])
    if unstable:
        left_out.append(f"{len(unstable)} unstable setting{'s' * (len(unstable) != 1)} (all seeds)")
    if left_out:
        parts += [f"Left out of the claims: {' and '.join(left_out)} (listed under *Runs left out*).", ""]
    if skipped:
        parts += ["Arms not run on this dataset: " + "; ".join(f"`{a}` ({why})" for a, why in skipped.items())
                  + ".", ""]
    parts += [" ".join(description.split()), ""]
    for claim in CLAIMS:
        parts += _claim(claim, c[claim.key])
    parts += book.section(claims)
    parts += ["## Runs left out", "", DIVERGENCE_RULE, "", COLLAPSE_RULE, "", UNSTABLE_RULE, "",
              "Unstable settings: " + (", ".join(_cell_text(cell) for cell in unstable) if unstable else "none."), ""]
    for kind in ("diverged", "collapsed"):
        listed = claims[f"{kind}_runs"]
        parts += [f"{kind.capitalize()}: " + (", ".join(f"`{r['run_dir']}`" for r in listed) if listed else "none."),
                  ""]
    parts += ["## Setting and machine", "",
              f"- runs: {claims['runs']} in {times['jobs']} ensemble jobs (a cell's seeds always share a job)",
              f"- code: commit {git_commit() or 'unknown'}; number-moving code fingerprint "
              f"`{claims.get('code_fingerprint')}` (`.venv/bin/python -m decaylab.compare reports/{claims['study']}/"
              f"{claims['datasets'][0]}` checks a rerun against this report)",
              f"- machine: {machine()}; device: {', '.join(times['devices'])}",
              f"- wall time of the training phase: {times['training_span_s'] / 60:.1f} min "
              f"({times['job_seconds'] / 60:.1f} job-minutes)", "",
              "## Definitions and thresholds", "", _definitions(claims["thresholds"]), "",
              "Thresholds: " + ", ".join(f"`{k}` = {v:g}" for k, v in claims["thresholds"].items()) + ".", ""]
    write_text(out, literal_stars("\n".join(parts)))


UNSTABLE_RULE = ("A setting is unstable when its seeds disagree about learning — some runs collapsed or diverged, "
                 "some not (a chaotic corner, where float rounding decides the outcome): it is left out of every "
                 "claim as a whole setting, so no verdict hinges on which seeds happened to fail.")


def _cell_text(cell: dict) -> str:
    return f"`{cell['arm']}` {cell['init']} λ = {cell['lam']:g}, η = {cell['eta']:g}, hidden {cell['hidden']}"


def literal_stars(markdown: str) -> str:
    """eta*lam is a product, not emphasis: escape a * between two word characters."""
    return re.sub(r"(?<=\w)\*(?=\w)", r"\\*", markdown)


def _claim(home: Claim, claim: dict) -> list[str]:
    """A claim's section: the book's words, status and answer, its figure, its headline numbers, the tables folded
    away."""
    lines = [f"## {home.key[0]}. {home.title}: {STATUS_MARK[claim['status']]}", "", f"> {home.statement}", "",
             claim["answer"], "", f"![claim {home.key[0]}: {home.figure}](figures/{home.figure}.png)", "",
             f"*{home.caption}*", ""]
    lines += [f"- {h['name']}: **{interval_text(h)}** ({h['seeds']} seeds{_cells_text(h)})" for h in claim["headline"]]
    shown = [t for t in home.tables(claim) if t[1]]
    if shown or claim.get("details"):
        lines += ["", "<details><summary>Full tables</summary>", "", claim.get("details", ""), ""]
        for intro, rows, columns in shown:
            if intro:
                lines += [intro, ""]
            lines += [md_table(rows, columns), ""]
        lines += ["</details>"]
    return lines + [""]


DEFINED = {"DECAY_WINDOW": "decay_window", "SHARE_THRESHOLD": "decay_share", "RATE_TOLERANCE": "rate_tolerance",
           "PLATEAU_FRACTION": "plateau_fraction", "PLATEAU_EPOCHS": "plateau_epochs",
           "SETTLED_LOG_CHANGE": "settled_log_change", "AROUND": "around",
           "SAME_ACCURACY": "same_accuracy"}  # a name in a claim module's docstring: its threshold's key


def _definitions(t: dict) -> str:
    """Each claim module's own description of what it measures, with this run's threshold values filled in."""
    parts = []
    for claim in CLAIMS:
        text = " ".join(importlib.import_module(claim.draw.__module__).__doc__.split("\n\n", 1)[1].split())
        for name, key in DEFINED.items():
            text = text.replace(name, f"{t[key]:.3g}")
        parts.append(f"**{claim.key[0]}. {claim.title}.** {text}")
    return "\n\n".join(parts)


def study_note(claims: dict, description: str) -> str:
    """The parent run's description: the study, then each claim's status and answer."""
    lines = [f"**Study `{claims['study']}`** on {', '.join(claims['datasets'])}, {claims['runs']} runs. "
             + " ".join(description.split()), ""]
    for row in verdict_rows(claims):
        lines += [f"**{row['claim']}: {STATUS_MARK[row['status']]}.** {row['answer']}", ""]
    lines.append("Tables and figures: the artifact `report.html`; every number: `claims.json`.")
    return "\n".join(lines)


def claim_tags(claims: dict) -> dict[str, str]:
    """Per claim a tag with its status, then one per claim with its answer (MLflow keeps up to 5,000 characters):
    the run's page lists the four statuses together, near the top."""
    out = {f"decaylab.claim{key[0]}.status": claims["claims"][key]["status"] for key in CLAIM_TITLES}
    return out | {f"decaylab.claim{key[0]}.answer": claims["claims"][key]["answer"][:5000] for key in CLAIM_TITLES}


def metric_name(key: str, headline: dict) -> str:
    """A headline number's MLflow metric name: claim<k>/<its short name> (the full name is in the description)."""
    return f"claim{key[0]}/{headline.get('metric') or re.sub(r'[^A-Za-z0-9_.-]+', '_', headline['name'])}"[:250]


def headline_numbers(claims: dict) -> dict[str, float]:
    """Each claim's headline numbers (means over seeds) as metrics, named after what they measure."""
    out = {}
    for key in CLAIM_TITLES:
        for h in claims["claims"][key]["headline"]:
            if h["mean"] is not None:
                out[metric_name(key, h)] = h["mean"]
    if (error := claims["claims"]["2_decay_rate"].get("dead_pixel_max_log_error")) is not None:
        out["claim2/dead_pixel_max_log_error"] = error
    return out


def overview_rst(claims: dict, params: dict) -> str:
    """The landing page of Snakemake's HTML report, one screen: the study in a line and the four verdicts with
    report.md's symbols and their key numbers; answers, tables and figures one click away (reStructuredText;
    Snakemake renders it through Jinja, so no braces)."""
    def plain(text: str) -> str:
        text = str(text).replace("**", "").replace("{", "(").replace("}", ")").replace("*", "·").replace("|", "\\|")
        return " ".join(text.split())

    lines = [f"decaylab: {claims['study']} on {', '.join(claims['datasets'])}", "=" * 80, "",
             plain(setting_lines(claims, params)[0]) if params else "", "", ".. list-table::", "   :header-rows: 1",
             "   :widths: 22 18 60", "", "   * - claim", "     - verdict",
             "     - key number (95% interval over seeds)"]
    for row in verdict_rows(claims):
        lines += [f"   * - {plain(row['claim'])}", f"     - {STATUS_MARK[row['status']]}",
                  f"     - {plain(row['key number (95% interval over seeds)'])}"]
    lines += ["", "Each verdict's answer, with every table and definition: *Report* (report.html). The figures, one "
              "per claim: *Claims*."]
    return "\n".join(lines) + "\n"


def render_html(markdown_text: str, report_dir: Path) -> str:
    """report.md as one self-contained HTML page (figures inlined), which MLflow's artifact viewer previews."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(markdown_text)

    def inline(match: re.Match) -> str:
        png = (report_dir / match.group(1)).read_bytes()
        return f'src="data:image/png;base64,{base64.b64encode(png).decode()}"'

    body = re.sub(r'src="(figures/[\w.-]+\.png)"', inline, body)
    style = ("body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}table{border-collapse:collapse;"
             "font-size:85%}td,th{border:1px solid #ccc;padding:2px 6px}img{max-width:100%}")
    return f"<!doctype html><html><head><meta charset=utf-8><style>{style}</style></head><body>{body}</body></html>\n"


def publish(parent: dict, claims: dict, description: str, params: dict, report_md: Path, html_out: Path,
            files: list[Path], unpublished: Path) -> None:
    """Render report.md to HTML and make the study's MLflow parent run its home page (see tracking.publish_study).
    A store that fails here costs only the home page: its cause goes to `unpublished`, which the study prints on
    the console when it ends, with the command that publishes it (snake.unpublished_notice)."""
    from decaylab.tracking import publish_study, store_failure

    write_text(html_out, render_html(report_md.read_text(), report_md.parent))
    try:
        publish_study(parent, study_note(claims, description), params, claim_tags(claims),
                      headline_numbers(claims), [report_md, html_out, *files])
        unpublished.unlink(missing_ok=True)
    except Exception as exc:  # the report is written; the store is only its view
        print(f"decaylab: report written, not published to MLflow ({store_failure(exc)})", file=sys.stderr)
        write_text(unpublished, store_failure(exc) + "\n")
