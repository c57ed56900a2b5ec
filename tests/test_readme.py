"""The README's results block is generated from the committed claims, and kept so."""

import json
import shutil
from pathlib import Path

from decaylab import readme

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_block_is_what_the_committed_claims_produce():
    text = (ROOT / "README.md").read_text()
    assert readme.BEGIN in text and readme.END in text
    assert readme.rewrite(text, ROOT / "reports") == text, "run: python -m decaylab.readme"


def test_a_changed_verdict_is_caught_and_rewritten_side_by_side(tmp_path):
    claims = json.loads((ROOT / "reports/smoke/synthetic/claims.json").read_text())
    for dataset, status, cells in (("data-a", "holds", ["a"]), ("data-b", "fails", ["a"]),
                                   ("data-c", "holds-conditionally", ["a", "b"])):
        claims["claims"]["2_decay_rate"]["status"], claims["cells"] = status, cells
        (tmp_path / "reports/demo" / dataset).mkdir(parents=True)
        (tmp_path / "reports/demo" / dataset / "claims.json").write_text(json.dumps(claims))
    (tmp_path / "README.md").write_text(f"# title\n\n{readme.BEGIN}\nstale\n{readme.END}\n\nmore\n")
    assert readme.main(["--check", "--root", str(tmp_path)]) == 1
    assert readme.main(["--root", str(tmp_path)]) == 0 and readme.main(["--check", "--root", str(tmp_path)]) == 0
    text = (tmp_path / "README.md").read_text()
    assert text.startswith("# title\n\n") and text.endswith(f"{readme.END}\n\nmore\n") and "stale" not in text
    assert "| claim | data-a | data-b | data-c |" in text and "| 2. Decay rate | ✅ holds<br>" in text
    assert "`demo` claim 2: holds on data-a, fails on data-b." in text  # data-c ran other settings: not compared


def test_a_damaged_claims_file_is_named_with_the_way_back(tmp_path, capsys):
    (tmp_path / "reports/demo/data-a").mkdir(parents=True)
    (tmp_path / "README.md").write_text(f"# title\n\n{readme.BEGIN}\nstale\n{readme.END}\n")
    for damaged in ("{garbage", json.dumps({"claims": {"1_x": {"status": "holds"}}})):
        (tmp_path / "reports/demo/data-a/claims.json").write_text(damaged)
        assert readme.main(["--root", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"decaylab: {tmp_path}/reports/demo/data-a/claims.json is damaged")
        assert "Traceback" not in err
        assert "snakemake --cores 2 --config study=demo dataset=data-a" in err


def test_the_first_screen_says_what_it_is_the_answer_and_the_two_commands():
    """The README's first 25 lines: one sentence on what decaylab is, the two commands for a fresh machine, and the
    generated bottom line of every claim (each claim's line in the study that answers it)."""
    first = (ROOT / "README.md").read_text().splitlines()[:25]
    assert first[0] == "# decaylab" and first[2].startswith("decaylab retrains")
    assert [line.split("#")[0].strip() for line in first if line.startswith("bash scripts/setup.sh")] == [
        "bash scripts/setup.sh && .venv/bin/snakemake --cores 2", "bash scripts/setup.sh && .venv/bin/python -m pytest"]
    assert readme.ANSWER_BEGIN in first and readme.ANSWER_END in first
    answer = first[first.index(readme.ANSWER_BEGIN):first.index(readme.ANSWER_END)]
    assert [line[:len("- **1.")] for line in answer if line.startswith("- **")] == [
        f"- **{key[0]}." for key, _ in readme.ANSWERED_BY]


def test_a_constructed_block_is_the_reviewed_snapshot(tmp_path, snapshot):
    """Verdicts that differ, a claim testable on one dataset only, a dataset of other settings, a claim holding only
    its status and headline, beside the committed book and tail-off reports: the whole block and the bottom line."""
    claims = json.loads((ROOT / "reports/smoke/synthetic/claims.json").read_text())
    for dataset, decay, tail, cells in (("data-a", "holds", "not-testable", ["a"]), ("data-b", "fails", "holds", ["a"]),
                                        ("data-c", "holds-conditionally", "fails", ["a", "b"])):
        claims["claims"]["2_decay_rate"]["status"], claims["claims"]["3_tail_off"]["status"] = decay, tail
        claims["claims"]["1_early_decay_dominance"] = {"status": "fails", "headline": []}
        claims["cells"] = cells
        (tmp_path / "reports/demo" / dataset).mkdir(parents=True)
        (tmp_path / "reports/demo" / dataset / "claims.json").write_text(json.dumps(claims))
    for study in ("book", "tail-off"):
        (tmp_path / "reports" / study / "mnist").mkdir(parents=True)
        shutil.copy(ROOT / "reports" / study / "mnist/claims.json", tmp_path / "reports" / study / "mnist")
    snapshot("readme/block.md", readme.block(tmp_path / "reports"))
    snapshot("readme/answer.md", readme.answer(tmp_path / "reports"))


def test_the_damage_names_the_exception_and_what_is_missing(tmp_path):
    path = tmp_path / "reports/demo/data-a/claims.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"claims": {"1_x": {"status": "holds"}}}))
    try:
        readme.load(tmp_path / "reports")
    except readme.DamagedReportError as exc:
        assert str(exc).startswith(f"{path} is damaged (KeyError: 'a claim without its status or headline'); "
                                   f"restore it (git checkout -- {path}) or make it again")
    else:
        raise AssertionError("a claim without its headline was read")


def test_a_stale_block_is_named_with_the_command_that_rewrites_it(tmp_path, capsys):
    (tmp_path / "reports").mkdir()
    (tmp_path / "README.md").write_text(f"{readme.BEGIN}\nstale\n{readme.END}\n")
    assert readme.main(["--check", "--root", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ("decaylab: README.md's results block differs from "
                                                   "reports/*/*/claims.json; run: python -m decaylab.readme\n")


def test_the_command_lines_help_is_the_reviewed_snapshot(capsys, monkeypatch, snapshot):
    """--help of decaylab.readme and decaylab.compare: what each does, its flags and an example."""
    from decaylab import compare

    monkeypatch.setenv("COLUMNS", "100")
    for name, main in (("readme", readme.main), ("compare", compare.main)):
        try:
            main(["--help"])
        except SystemExit as done:
            assert done.code == 0
        snapshot(f"cli/{name}-help.txt", capsys.readouterr().out)


def test_the_bottom_line_ends_each_opening_with_one_full_stop(tmp_path):
    """An answer of one sentence (its own full stop) and one of several: each line ends with exactly one."""
    claims = json.loads((ROOT / "reports/book/mnist/claims.json").read_text())
    claims["claims"]["1_early_decay_dominance"]["answer"] = "Not testable here: no run with lam > 0."
    (tmp_path / "reports/book/mnist").mkdir(parents=True)
    (tmp_path / "reports/book/mnist/claims.json").write_text(json.dumps(claims))
    lines = [line for line in readme.answer(tmp_path / "reports").splitlines() if line.startswith("- **")]
    assert lines[0].endswith("(reports/book/mnist/report.md): Not testable here: no run with lam > 0.")
    assert all(line.endswith(".") and not line.endswith("..") for line in lines) and len(lines) == 3
