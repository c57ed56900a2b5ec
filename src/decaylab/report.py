"""The study's report.md: verdicts with their numbers, the book's examples, definitions and figures."""

import json
import math
import os
import platform
from datetime import datetime
from pathlib import Path

import pandas as pd

from decaylab import analyze
from decaylab.atomic import write_text
from decaylab.figures import FIGURES

CAPTIONS = {
    "dominance": "Claim 1. Decay share of the change in |W|^2 (top) and decay/gradient displacement ratio "
                 "(bottom) per epoch, by layer; mean and sd over seeds, log scale. Dotted: thresholds.",
    "decay_rate": "Claim 2. Measured per-epoch -ln(shrink) of each layer's weight norm over the predicted "
                  "eta*lam/m, by predicted rate; 1 (black) means the claim holds. Decay-dominated epochs apart.",
    "tail_off": "Claim 3. Plateau weight RMS against the number of weights n_w (log-log), with 1/sqrt(n_w), "
                "1/n_w and 1/sqrt(n_in) for reference.",
    "init_comparison": "Claim 4. Weight RMS per layer (dotted: the scaled-init scale 1/sqrt(n_in)) and "
                       "validation accuracy per epoch, standard against scaled init.",
}


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
    parts += _claim("1. Early-decay dominance", dominance, [
        ("", dominance.get("table", []), ["layer", "arm", "init", "lam", "eta", "hidden", "decay_share",
                                          "disp_ratio", "size_reading_holds", "strong_reading_holds"])])
    parts += _claim("2. Decay rate", rate, [
        ("", rate.get("table", []), ["layer", "eta", "lam", "n", "eta_lam_over_n", "epochs", "median_rel_error",
                                     "exp_vs_exact_rel_gap"])])
    parts += _claim("3. Tail-off size", tail, [
        ("Log-log slope of the plateau RMS against n_w (networks with one hidden layer), fitted per seed; mean "
         "and 95% interval over seeds; `consistent_with`: the scalings whose slope lies in the interval "
         "(1/sqrt(n_in) predicts 0 for W1, -1/2 after):", tail.get("slopes_vs_n_w", []),
         ["layer", "init", "lam", "eta", "n", "slope", "ci95", "seeds", "nearest", "consistent_with"]),
        ("Against lam/n, which the heuristic leaves out:", tail.get("slopes_vs_lam_over_n", []),
         ["layer", "init", "hidden", "eta", "n", "slope", "ci95", "seeds"]),
        ("Per cell (means over seeds):", _tail_rows(tail),
         ["layer", "arm", "init", "lam", "hidden", "n_w", "n_in", "tail_epoch", "rms_at_tail", "plateau_rms",
          "ratio_inv_sqrt_nw", "ratio_inv_nw", "ratio_inv_sqrt_nin"])])
    parts += _claim("4. Standard init + L2 against the scaled init", init, [
        ("Weight RMS (means over seeds); the last column is the first epoch at which the standard init's RMS is "
         "at or below 1/sqrt(n_in):", init.get("weights", []),
         ["layer", "arm", "lam", "eta", "hidden", "n_in", "target_rms", "standard_rms_start", "standard_rms_end",
          "scaled_rms_end", "epoch_standard_reaches_scaled_scale"]),
        ("Validation accuracy (means over seeds):", init.get("accuracy", []),
         ["arm", "lam", "eta", "hidden", "acc_epoch1_standard", "acc_epoch1_scaled", "acc_final_standard",
          "acc_final_scaled"])])
    if claims["book_examples"]:
        parts += ["## The book's examples", "",
                  "Accuracy on the split the book quotes; ours is on the dataset above (the book's is real MNIST).",
                  "", md_table(_book_rows(claims["book_examples"]),
                               ["arm", "init", "lam", "eta", "hidden", "n", "eta_lam_over_n", "exp(-eta lam/m)",
                                "decay-dominated early (W1, W2)", "split", "final_accuracy", "peak_accuracy",
                                "book_accuracy"]), ""]
    parts += ["## Diverged runs", ""]
    parts += [f"- {r['run_dir']}" for r in claims["diverged_runs"]] or ["None."]
    parts += ["", "## Definitions", "", _definitions(t), "", "## Figures", ""]
    for name in FIGURES:
        parts += [f"![{name}](figures/{name}.png)", "", CAPTIONS[name], ""]
    write_text(out, "\n".join(parts))


def _claim(title: str, claim: dict, tables: list[tuple[str, list[dict], list[str]]]) -> list[str]:
    """A claim's section: heading, verdict, then each (intro, rows, columns) table that has rows."""
    lines = [f"### {title}", "", claim["verdict"], ""]
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
