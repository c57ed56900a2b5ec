"""The command line: one flag per setting of the config schema, through the config's checks."""

import re

import pytest

from decaylab.cli import main, parse_args
from decaylab.spec import schema


def test_every_setting_is_a_flag_and_reaches_the_runs(tmp_path):
    job = parse_args(["--dataset", "synthetic", "--init", "glorot", "--hidden", "8", "4", "--lam", "1",
                      "--train-size", "300", "--seed", "0", "1", "--out", str(tmp_path)])
    assert [(r.init, r.hidden, r.lam, r.train_size, r.seed) for r in job.runs] == [
        ("glorot", (8, 4), 1.0, 300, 0), ("glorot", (8, 4), 1.0, 300, 1)]
    assert [r.out for r in job.runs] == [str(tmp_path / "seed~0"), str(tmp_path / "seed~1")]
    left_out = parse_args(["--dataset", "synthetic"]).runs[0]  # the schema's defaults
    assert (left_out.init, left_out.hidden, left_out.m, left_out.eta) == ("standard", (30,), 10, 0.5)


def test_help_describes_every_flag_with_a_plain_default_and_an_example(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    shown = capsys.readouterr().out
    options = shown.split("options:")[1].split("example:")[0]
    for key in set(schema()["definitions"]["settings"]["properties"]) - {"book"}:
        assert f"--{key.replace('_', '-')}" in shown
    flags = re.findall(r"^  (--[\w-]+)", options, flags=re.M)
    options = " ".join(options.split())
    assert len(flags) > 15 and options.count("(default: ") == len(flags) - 1  # all but --job
    assert "(default: 30)" in options and "(default: standard)" in options and "(default: [" not in options
    assert "default: mnist" in options  # the studies' default dataset
    assert "example:\n  .venv/bin/python -m decaylab.cli --lam 5" in shown


def test_bad_flags_are_refused_naming_the_flag(tmp_path, capsys):
    assert main(["--dataset", "synthetic", "--init", "xavier", "--out", str(tmp_path / "x")]) == 2
    assert "decaylab: error: --init: 'xavier' is not one of" in capsys.readouterr().err
    assert main(["--dataset", "synthetic", "--test-size", "0", "--out", str(tmp_path / "x")]) == 2
    assert "decaylab: error: --test-size: 0 is less than the minimum of 1" in capsys.readouterr().err
    assert main(["--dataset", "synthetic", "--m", "601", "--out", str(tmp_path / "x")]) == 2
    assert "decaylab: error: --m: 601 exceeds the training-set size n=600" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_a_finished_run_says_where_it_went(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert main(["--dataset", "synthetic", "--epochs", "1", "--hidden", "8", "--out", str(tmp_path / "run")]) == 0
    assert capsys.readouterr().err.endswith(f"decaylab: 1 run written to {tmp_path / 'run'} (metrics.parquet, "
                                            "run.json each)\n")
    assert (tmp_path / "run/run.json").exists()
