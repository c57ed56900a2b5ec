"""What the study's MLflow parent run and Snakemake's landing page show, from every committed claims.json: each
claim once, with its own status and numbers; the run times counted per job; figures inlined byte for byte."""

import base64
import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from decaylab.claims import CLAIM_TITLES, CLAIMS
from decaylab.report import (
    STATUS_MARK,
    claim_tags,
    figure_labels,
    headline_numbers,
    machine,
    metric_name,
    overview_rst,
    render_html,
    study_note,
    timing,
    verdict_rows,
)

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = sorted((ROOT / "reports").glob("*/*/claims.json"))
PARAMS = {"study": "demo", "dataset": "mnist", "arms": "main", "init": "standard", "lam": "5", "eta": "0.5",
          "hidden": "30", "n": "1000", "m": "10", "epochs": "3", "seeds": "0, 1"}


def _claims(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture(params=COMMITTED, ids=lambda p: f"{p.parts[-3]}/{p.parts[-2]}")
def claims(request) -> dict:
    return _claims(request.param)


def test_what_the_study_pages_show_is_the_reviewed_snapshot(claims, snapshot):
    """The whole text of Snakemake's landing page and the MLflow page's description, tags and metrics."""
    name = f"{claims['study']}-{'-'.join(claims['datasets'])}"
    snapshot(f"report/{name}.rst", overview_rst(claims, PARAMS))
    snapshot(f"report/{name}.json", json.dumps({"description": study_note(claims, "A study."),
                                                "tags": claim_tags(claims), "metrics": headline_numbers(claims)},
                                               indent=1, ensure_ascii=False) + "\n")


def test_verdict_rows_are_the_claims_in_order_with_their_first_headline(claims):
    rows = verdict_rows(claims)
    assert [r["claim"] for r in rows] == [f"{k[0]}. {t}" for k, t in CLAIM_TITLES.items()]
    for row, key in zip(rows, CLAIM_TITLES):
        claim = claims["claims"][key]
        assert (row["status"], row["answer"]) == (claim["status"], claim["answer"])
        number = row["key number (95% interval over seeds)"]
        assert number.startswith(f"{claim['headline'][0]['name']}: ") if claim["headline"] else number == "—"


def test_the_landing_page_lists_each_claim_once_with_its_status_and_no_braces(claims):
    rst = overview_rst(claims, PARAMS)
    lines = rst.splitlines()
    assert lines[0] == f"decaylab: {claims['study']} on {', '.join(claims['datasets'])}" and set(lines[1]) == {"="}
    assert "{" not in rst and "}" not in rst and "**" not in rst  # Jinja and reStructuredText
    assert lines[3].startswith("demo on mnist: arms main") and rst.endswith("*Claims*.\n")
    rows = [i for i, line in enumerate(lines) if line.startswith("   * - ")][1:]  # after the header row
    assert len(rows) == len(CLAIMS)
    for i, row, key in zip(rows, verdict_rows(claims), CLAIM_TITLES):
        assert lines[i] == f"   * - {row['claim']}"
        assert lines[i + 1] == f"     - {STATUS_MARK[claims['claims'][key]['status']]}"
        assert lines[i + 2].startswith("     - ") and len(lines[i + 2]) > len("     - ")
    assert "   * - claim" in lines and "     - verdict" in lines and "   :header-rows: 1" in lines
    assert overview_rst(claims, {}).splitlines()[3] == ""


def test_the_landing_page_escapes_what_restructuredtext_and_jinja_read():
    claims = _claims(COMMITTED[0])
    claims["claims"][CLAIMS[0].key]["headline"][0]["name"] = "a **bold** {x} |W| a*b"
    line = next(ln for ln in overview_rst(claims, {}).splitlines() if "bold" in ln)
    assert "a bold (x) \\|W\\| a·b" in line


def test_the_study_note_gives_each_status_and_answer(claims):
    note = study_note(claims, "  A   study\n description. ")
    assert note.startswith(f"**Study `{claims['study']}`** on {', '.join(claims['datasets'])}, "
                           f"{claims['runs']} runs. A study description.\n\n")
    for row in verdict_rows(claims):
        assert f"**{row['claim']}: {STATUS_MARK[row['status']]}.** {row['answer']}\n\n" in note
    assert note.endswith("Tables and figures: the artifact `report.html`; every number: `claims.json`.")


def test_tags_give_each_claims_status_then_its_answer_cut_at_mlflows_limit(claims):
    claims["claims"][CLAIMS[-1].key]["answer"] = "x" * 6000
    tags = claim_tags(claims)
    assert list(tags) == ([f"decaylab.claim{k[0]}.status" for k in CLAIM_TITLES]
                          + [f"decaylab.claim{k[0]}.answer" for k in CLAIM_TITLES])
    for key in CLAIM_TITLES:
        assert tags[f"decaylab.claim{key[0]}.status"] == claims["claims"][key]["status"]
    assert tags[f"decaylab.claim{CLAIMS[-1].key[0]}.answer"] == "x" * 5000
    assert tags[f"decaylab.claim{CLAIMS[0].key[0]}.answer"] == claims["claims"][CLAIMS[0].key]["answer"][:5000]


def test_headline_metrics_are_the_means_under_their_short_names(claims):
    metrics = headline_numbers(claims)
    expected = {metric_name(k, h): h["mean"] for k in CLAIM_TITLES for h in claims["claims"][k]["headline"]
                if h["mean"] is not None}
    error = claims["claims"]["2_decay_rate"].get("dead_pixel_max_log_error")
    if error is not None:
        expected["claim2/dead_pixel_max_log_error"] = error
    assert metrics == expected and all(re.fullmatch(r"claim[1-4]/[A-Za-z0-9_./-]+", m) for m in metrics)


def test_a_headline_without_a_mean_or_a_dead_pixel_error_logs_nothing():
    claims = _claims(COMMITTED[0])
    for key in CLAIM_TITLES:
        for h in claims["claims"][key]["headline"]:
            h["mean"] = None
    claims["claims"]["2_decay_rate"]["dead_pixel_max_log_error"] = None
    assert headline_numbers(claims) == {}
    claims["claims"]["2_decay_rate"]["dead_pixel_max_log_error"] = 0.25
    assert headline_numbers(claims) == {"claim2/dead_pixel_max_log_error": 0.25}


def test_a_metric_is_named_by_its_short_name_else_its_name_made_safe():
    assert metric_name("3_tail_off", {"name": "x", "metric": "slope"}) == "claim3/slope"
    assert metric_name("1_x", {"name": "share of ‖W‖² (a/b)"}) == "claim1/share_of_W_a_b_"
    assert metric_name("1_x", {"name": "a.b-c_d"}) == "claim1/a.b-c_d"
    assert len(metric_name("2_x", {"name": "y" * 400})) == 250


def _run_json(tmp_path: Path, name: str, start: str, end: str, wall: float, device: str) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"started_at": start, "finished_at": end, "wall_time_s": wall, "device": device}))
    return str(path)


def test_timing_spans_first_start_to_last_end_and_counts_a_job_once_for_its_members(tmp_path):
    runs = [_run_json(tmp_path, "a", "2026-01-01T00:00:00", "2026-01-01T00:01:00", 60.0, "cpu"),
            _run_json(tmp_path, "b", "2026-01-01T00:00:00", "2026-01-01T00:01:00", 60.0, "cpu"),  # a's job
            _run_json(tmp_path, "c", "2026-01-01T00:00:30", "2026-01-01T00:03:00", 150.0, "cuda:0")]
    assert timing(runs) == {"training_span_s": 180.0, "job_seconds": 210.0, "jobs": 2, "devices": ["cpu", "cuda:0"]}


def test_the_html_page_inlines_each_figure_and_renders_tables(tmp_path, snapshot):
    (tmp_path / "figures").mkdir()
    png = b"\x89PNG fake bytes"
    (tmp_path / "figures/tail_off.png").write_bytes(png)
    html = render_html("# T\n\n![x](figures/tail_off.png)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n", tmp_path)
    assert html.startswith("<!doctype html>") and html.endswith("</body></html>\n")
    assert f'src="data:image/png;base64,{base64.b64encode(png).decode()}"' in html
    assert "<table>" in html and "<td>2</td>" in html and "<h1>T</h1>" in html
    snapshot("report/page.html", html)


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.figure)
def test_snakemakes_report_lists_a_figure_under_its_claim(claim):
    assert figure_labels(claim.figure, "grid/mnist") == {"claim": f"{claim.key[0]}. {claim.title}",
                                                         "study": "grid/mnist", "figure": claim.figure}


def test_the_machine_line_names_the_cores_and_the_system():
    line = machine()
    assert line.endswith(f", {os.cpu_count()} cores, {os.uname().sysname}") and not line.startswith(",")
    names = [ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("model name")]
    if names:  # Linux: the first processor's model, as /proc/cpuinfo names it
        assert line.startswith(names[0].split(":", 1)[1].strip() + ",")


def test_mlflows_experiment_note_defines_every_metric_once(snapshot):
    from decaylab.glossary import METRICS, NAMING, experiment_note

    note = experiment_note()
    rows = [line for line in note.splitlines() if line.startswith("| `")]
    assert rows == [f"| `{name}` | {meaning} |" for name, meaning in METRICS.items()] and NAMING in note
    snapshot("report/experiment-note.md", note)


def test_an_untestable_claims_figure_says_why_wrapped_on_a_bare_canvas(tmp_path, monkeypatch):
    from decaylab import figures

    drawn = []
    monkeypatch.setattr(figures, "_save", lambda fig, out_dir, name: drawn.append((fig, out_dir, name)))
    figures._empty(tmp_path, "tail_off", "one network size")
    (fig, out_dir, name), = drawn
    (ax,) = fig.axes
    (text,) = ax.texts
    assert (out_dir, name, ax.axison) == (tmp_path, "tail_off", False)
    assert text.get_text() == "Not testable here: one network size" and text.get_wrap()
    assert (text.get_position(), text.get_ha(), text.get_va()) == ((0.5, 0.5), "center", "center")


def test_a_figure_is_saved_at_110_dpi_into_new_folders_and_closed_alone(tmp_path):
    """_save makes the figure folder with its parents, writes each format (the PNG at 110 dpi) and closes its own
    figure, not whichever is current."""
    import matplotlib.pyplot as plt
    from PIL import Image

    from decaylab import figures

    fig, other = plt.figure(figsize=(2, 1)), plt.figure(figsize=(2, 1))  # the other is current
    figures._save(fig, tmp_path / "a" / "b", "f")
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == [f"f.{ext}" for ext in sorted(figures.FORMATS)]
    assert [round(v) for v in Image.open(tmp_path / "a" / "b" / "f.png").info["dpi"]] == [110, 110]
    assert plt.fignum_exists(other.number) and not plt.fignum_exists(fig.number)
    plt.close(other)


def test_one_mean_over_fewer_than_three_seeds_is_crossed_and_reported():
    import matplotlib.pyplot as plt

    from decaylab import figures

    d = pd.DataFrame({"init": "standard", "λ": "5", "epoch": [1, 1, 1, 2, 2],
                      "y": [0.1, 0.2, 0.3, 0.4, 0.5], "seed": [0, 1, 2, 0, 1]})  # epoch 2: two seeds
    fig, ax = plt.subplots()
    assert figures.mark_few_seeds(ax, d, "epoch", "y") and len(ax.collections) == 1
    assert ax.collections[0].get_offsets().tolist() == [[2.0, 0.45]]
    assert not figures.mark_few_seeds(ax, d[d.epoch == 1], "epoch", "y")
    plt.close(fig)


def test_a_setting_is_labelled_by_what_tells_it_apart_and_by_its_arm_where_nothing_else_does():
    from decaylab import figures

    d = pd.DataFrame({"arm": ["small", "large"], "eta": 0.5, "hidden": "30", "lam": 5.0, "init": "standard"})
    assert figures._setting(d).tolist() == ["small", "large"]  # the same eta, width and lambda: say n differs
    assert figures._setting(d.assign(eta=[0.5, 0.1])).tolist() == ["η=0.5", "η=0.1"]
    assert figures._setting(d.assign(arm="main", hidden=["30", "100"])).tolist() == ["h=30", "h=100"]
    assert figures._setting(d.iloc[:1]).tolist() == [""]


def test_a_copy_is_byte_for_byte_and_leaves_no_temporary(tmp_path):
    from decaylab.atomic import copy_file

    (tmp_path / "a.bin").write_bytes(bytes(range(256)) * 3)
    copy_file(tmp_path / "a.bin", tmp_path / "deep/b.bin")
    assert (tmp_path / "deep/b.bin").read_bytes() == bytes(range(256)) * 3
    assert sorted(p.name for p in (tmp_path / "deep").iterdir()) == ["b.bin"]


def test_a_table_cell_for_each_kind_of_value():
    from decaylab.text import md_table

    row = {"nan": float("nan"), "float": 0.123456, "list": [1.5, "a"], "empty": [], "interval":
           {"mean": 0.5, "ci95": [0.25, 0.75]}, "spread": {"mean": 1.23456, "sd": 0.0456}, "unmeasured":
           {"mean": None, "sd": None}, "none": None, "pipe": "a|b", "int": 7}
    assert md_table([row], list(row)).splitlines() == [
        "| nan | float | list | empty | interval | spread | unmeasured | none | pipe | int |",
        "|---|---|---|---|---|---|---|---|---|---|",
        "| — | 0.1235 | 1.5, a | none | 0.5 [0.25, 0.75] | 1.235 ± 0.046 | n/a | — | a\\|b | 7 |"]


@pytest.mark.parametrize("headline,text", [
    ({"mean": 0.123456, "ci95": [0.1, 0.15]}, "0.123 [0.1, 0.15]"),
    ({"mean": 0.0123, "ci95": None, "unit": "accuracy"}, "1.23 pp (one seed)"),
    ({"mean": 0.5, "ci95": [0.4, 0.6], "unit": "percent"}, "50 % [40, 60]"),
    ({"mean": None, "ci95": None}, "n/a"),
    ({"mean": 2.0, "ci95": [1.0, 3.0], "unit": "other"}, "2 [1, 3]"),
])
def test_a_headline_reads_mean_and_interval_in_its_unit(headline, text):
    from decaylab.text import interval_text

    assert interval_text(headline) == text


def _one_run(tmp_path: Path) -> list[str]:
    return [_run_json(tmp_path, "a", "2026-01-01T00:00:00", "2026-01-01T00:01:30", 90.0, "cpu"),
            _run_json(tmp_path, "b", "2026-01-01T00:00:00", "2026-01-01T00:01:30", 90.0, "cpu")]


def test_the_reports_machine_section_and_skipped_arms(tmp_path, monkeypatch):
    from decaylab import report

    monkeypatch.setattr(report, "git_commit", lambda: "abc123")
    claims = _claims(COMMITTED[0])
    report.write_report(claims, _one_run(tmp_path), tmp_path / "report.md", "", {},
                        {"small": "needs n = 1,000", "big": "too large"})
    text = (tmp_path / "report.md").read_text()
    assert "\nArms not run on this dataset: `small` (needs n = 1,000); `big` (too large).\n\n\n\n## 1. " in text
    assert "Every number below is computed" not in text  # no params: no setting lines
    study, dataset = claims["study"], claims["datasets"][0]
    section = text.split("## Setting and machine\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert section == [
        f"- runs: {claims['runs']} in 1 ensemble jobs (a cell's seeds always share a job)",
        f"- code: commit abc123; number-moving code fingerprint `{claims['code_fingerprint']}` "
        f"(`.venv/bin/python -m decaylab.compare reports/{study}/{dataset}` checks a rerun against this report)",
        f"- machine: {report.machine()}; device: cpu",
        "- wall time of the training phase: 1.5 min (1.5 job-minutes)"]
    monkeypatch.setattr(report, "git_commit", lambda: None)
    cell = {"arm": "main", "init": "standard", "lam": 5.0, "eta": 0.5, "hidden": "30"}
    report.write_report({**claims, "unstable_cells": [cell, {**cell, "lam": 50.0}]}, _one_run(tmp_path),
                        tmp_path / "report.md")  # no description: nothing in its place
    text = (tmp_path / "report.md").read_text()
    assert "- code: commit unknown; " in text and "2 unstable settings (all seeds)" in text
    assert "(listed under *Runs left out*).\n\n\n\n## 1. " in text


def test_publishing_renders_the_page_and_a_failing_store_costs_only_the_page(tmp_path, monkeypatch, capsys):
    from decaylab import report, tracking

    claims, sent = _claims(COMMITTED[0]), []
    page = '# R\n\n<img src="figures/a.png">\n'  # a figure beside report.md, inlined from there
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures/a.png").write_bytes(b"png")
    (tmp_path / "report.md").write_text(page)
    unpublished = tmp_path / "unpublished.txt"
    unpublished.write_text("old failure\n")
    monkeypatch.setattr(tracking, "publish_study", lambda *args: sent.append(args))
    report.publish({"run_id": "p"}, claims, "A study.", PARAMS, tmp_path / "report.md", tmp_path / "report.html",
                   [tmp_path / "claims.json"], unpublished)
    assert (tmp_path / "report.html").read_text() == render_html(page, tmp_path)
    assert 'src="data:image/png;base64,cG5n"' in render_html(page, tmp_path)
    assert sent == [({"run_id": "p"}, study_note(claims, "A study."), PARAMS, claim_tags(claims),
                     headline_numbers(claims), [tmp_path / "report.md", tmp_path / "report.html",
                                                tmp_path / "claims.json"])]
    assert not unpublished.exists()
    report.publish({"run_id": "p"}, claims, "", PARAMS, tmp_path / "report.md", tmp_path / "report.html", [],
                   unpublished)  # nothing left to remove: no error

    def down(*args):
        raise ConnectionError("store down")

    monkeypatch.setattr(tracking, "publish_study", down)
    report.publish({"run_id": "p"}, claims, "", PARAMS, tmp_path / "report.md", tmp_path / "report.html", [],
                   unpublished)
    why = tracking.store_failure(ConnectionError("store down"))
    assert unpublished.read_text() == why + "\n"
    assert capsys.readouterr().err == f"decaylab: report written, not published to MLflow ({why})\n"


def test_a_claims_folded_tables_open_with_its_details_or_nothing_in_their_place():
    from decaylab.report import _claim

    claims = json.loads((ROOT / "reports/smoke/synthetic/claims.json").read_text())["claims"]
    home = CLAIMS[1]
    with_details = _claim(home, claims[home.key])
    without = _claim(home, {k: v for k, v in claims[home.key].items() if k != "details"})
    start = without.index("<details><summary>Full tables</summary>")
    assert with_details[start + 2] == claims[home.key]["details"] != ""
    assert without[start + 1:start + 4] == ["", "", ""] and without[start + 4] != ""


def test_the_machine_is_the_first_cpus_model_name_else_the_platforms(tmp_path, monkeypatch):
    from decaylab import report

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Xeon(R) CPU @ 2.20GHz: rev 1\nprocessor\t: 1\n"
                       "model name\t: Other\n")
    monkeypatch.setattr(report, "Path", lambda path: cpuinfo if path == "/proc/cpuinfo" else Path(path))
    monkeypatch.setattr(report.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(report.platform, "system", lambda: "Linux")
    assert report.machine() == "Xeon(R) CPU @ 2.20GHz: rev 1, 2 cores, Linux"
    cpuinfo.write_text("processor\t: 0\n")
    monkeypatch.setattr(report.platform, "processor", lambda: "")
    monkeypatch.setattr(report.platform, "machine", lambda: "aarch64")
    assert report.machine() == "aarch64, 2 cores, Linux"
    monkeypatch.setattr(report.platform, "processor", lambda: "arm")
    assert report.machine() == "arm, 2 cores, Linux"


def test_a_study_on_several_datasets_and_devices_names_each_in_its_headings(tmp_path, monkeypatch):
    from decaylab import report

    monkeypatch.setattr(report, "git_commit", lambda: "abc123")
    claims = {**_claims(COMMITTED[0]), "datasets": ["mnist", "fashion-mnist"]}
    run_jsons = [_run_json(tmp_path, "a", "2026-01-01T00:00:00", "2026-01-01T00:01:00", 60.0, "cpu"),
                 _run_json(tmp_path, "b", "2026-01-01T00:00:00", "2026-01-01T00:02:00", 120.0, "cuda:0")]
    report.write_report(claims, run_jsons, tmp_path / "report.md")
    text = (tmp_path / "report.md").read_text()
    assert text.startswith(f"# decaylab: `{claims['study']}` on mnist, fashion-mnist\n")
    assert "; device: cpu, cuda:0\n" in text
    assert study_note(claims, "").startswith(f"**Study `{claims['study']}`** on mnist, fashion-mnist, ")
    assert report.overview_rst(claims, PARAMS).startswith(f"decaylab: {claims['study']} on mnist, fashion-mnist\n")
