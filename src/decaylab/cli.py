"""Train one setting outside any study, one run per seed.

Give the setting by flags (each as in config/config.yaml, one value each; the studies' defaults otherwise) or a job
file (YAML or JSON of spec.Job.to_dict()). Both go through the config's checks before anything is trained; the
run's metrics.parquet and run.json go to --out, and to MLflow as in a study.
"""

import argparse
import re
import sys
from pathlib import Path

import yaml

from decaylab.errors import ExpectedError
from decaylab.signals import JobKilled
from decaylab.spec import AXES, ConfigError, Job, Run, check_settings, defaults, schema

TYPES = {"integer": int, "number": float, "string": str}


EXAMPLE = """example:
  .venv/bin/python -m decaylab.cli --lam 5 --eta 0.5 --init standard --epochs 30 --seed 0 1 2 --out results/runs/mine
"""
HELP = {"epochs": "epochs to train", "validation_size": "validation examples", "test_size": "test examples",
        "train_size": "training examples n", "init": "weight init", "lam": "L2 rate λ",
        "eta": "learning rate η"}  # where the schema's description is missing, terse or plural


def _plain(value) -> str:
    """A default as typed on the command line: 30 for [[30]], standard for ['standard'], the whole split for null."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, list):
        return " ".join(map(_plain, value))
    return "the whole split" if value is None else str(value)


def _setting_flags(p: argparse.ArgumentParser) -> dict:
    """One flag per setting of the config schema (one value of each axis: a run's cell), with its help."""
    settings = {key: prop for key, prop in schema()["definitions"]["settings"]["properties"].items() if key != "book"}
    for key, prop in settings.items():
        value = prop["items"] if key in AXES else prop  # an axis is a list; the command line trains one cell
        if key == "hidden":
            kind, nargs, what = int, "+", "hidden-layer widths, e.g. --hidden 100 100"
        else:
            types = value["type"] if isinstance(value["type"], list) else [value["type"]]
            kind, nargs = TYPES[next(t for t in types if t != "null")], None
            what = HELP.get(key) or prop.get("description", key).split(";")[0].split(" (names from")[0]
        choices = ", ".join(value.get("enum", ()))
        p.add_argument(f"--{key.replace('_', '-')}", type=kind, nargs=nargs, metavar=key.upper() if not choices
                       else "{" + choices.replace(" ", "") + "}",
                       help=f"{what} (default: {_plain(prop['default'])})")
    return settings


WHERE = "flags"  # how check_settings names the settings given by flags in its errors


def _flag_error(exc: ConfigError) -> ConfigError:
    """A config error on a setting, as the flag that gave it: `--eta: -1.0 is less than ...`."""
    found = re.match(rf"config key {WHERE}/(\w+)(?:/\d+)*: (.*)", str(exc), flags=re.S)
    return ConfigError(f"--{found[1].replace('_', '-')}: {found[2]}") if found else exc


def parse_args(argv=None) -> Job:
    p = argparse.ArgumentParser(prog="python -m decaylab.cli", description=__doc__, epilog=EXAMPLE,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--job", type=Path, help="YAML/JSON job file (`runs` plus how to train them); "
                   "overrides every other flag")
    settings = _setting_flags(p)
    p.add_argument("--seed", type=int, nargs="+", default=[0], help="one or more seeds, one run each (default: 0)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"],
                   help="training precision (default: float32)")
    top = defaults(schema())
    p.add_argument("--accelerator", default=top["accelerator"], choices=schema()["properties"]["accelerator"]["enum"],
                   help=f"where Lightning trains (default: {top['accelerator']}; auto: a GPU if there is one)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (default: 1)")
    p.add_argument("--experiment", default=top["experiment"], help=f"MLflow experiment (default: {top['experiment']})")
    p.add_argument("--out", type=Path, default=Path("results/runs/manual"),
                   help="output folder; with several seeds, one subfolder seed~S each (default: results/runs/manual)")
    args = p.parse_args(argv)
    if args.job:
        return Job.from_dict(yaml.safe_load(args.job.read_text()))
    given = {key: [getattr(args, key)] if key in AXES else getattr(args, key)
             for key in settings if getattr(args, key) is not None}
    try:
        s = check_settings(given, WHERE)
    except ConfigError as exc:
        raise _flag_error(exc) from None
    own = {key: value[0] if key in AXES else value for key, value in s.items() if key in settings}
    runs = tuple(Run(**{**own, "hidden": tuple(own["hidden"]), "lam": float(own["lam"]), "eta": float(own["eta"])},
                     seed=seed, out=str(args.out / f"seed~{seed}") if len(args.seed) > 1 else str(args.out))
                 for seed in args.seed)
    return Job(runs, name="cli", dtype=args.dtype, accelerator=args.accelerator, threads=args.threads,
               experiment=args.experiment)


def main(argv=None) -> int:
    from decaylab.train import run_job

    try:
        job = parse_args(argv)
        written = run_job(job)
        print(f"decaylab: {len(written)} run{'s' * (len(written) != 1)} written to "
              f"{', '.join(run.out for run in job.runs)} (metrics.parquet, run.json each)", file=sys.stderr)
    except (ValueError, ExpectedError) as exc:
        print(f"decaylab: error: {exc}", file=sys.stderr)
        return 2
    except JobKilled as exc:
        print(f"decaylab: killed by {exc}", file=sys.stderr)
        return 143
    return 0


if __name__ == "__main__":
    sys.exit(main())
