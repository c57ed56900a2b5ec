"""The command line: one flag per setting of the config schema, through the config's checks."""

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


def test_help_lists_a_flag_per_setting(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    shown = capsys.readouterr().out
    for key in set(schema()["definitions"]["settings"]["properties"]) - {"book"}:
        assert f"--{key.replace('_', '-')}" in shown


def test_bad_flags_are_refused_like_bad_config(tmp_path, capsys):
    assert main(["--dataset", "synthetic", "--init", "xavier", "--out", str(tmp_path / "x")]) == 2
    assert "command line/init/0: 'xavier' is not one of" in capsys.readouterr().err
    assert main(["--dataset", "synthetic", "--m", "601", "--out", str(tmp_path / "x")]) == 2
    assert "m: 601 exceeds the training-set size n=600" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
