"""Train one job from the command line: `python -m decaylab.cli --help`.

Either a job file (YAML or JSON of spec.Job.to_dict(): the runs and how to train them) or one cell given by
flags (one per setting of the config schema), one run per seed. Both go through the config's checks
(spec.check_settings) before anything is trained.
"""

import argparse
import sys
from pathlib import Path

import yaml

from decaylab.errors import ExpectedError
from decaylab.signals import JobKilled
from decaylab.spec import AXES, Job, Run, check_settings, defaults, schema

TYPES = {"integer": int, "number": float, "string": str}


def _setting_flags(p: argparse.ArgumentParser) -> dict:
    """One flag per setting of the config schema (one value of each axis: a run's cell), with its help."""
    settings = {key: prop for key, prop in schema()["definitions"]["settings"]["properties"].items() if key != "book"}
    for key, prop in settings.items():
        value = prop["items"] if key in AXES else prop  # an axis is a list; the command line trains one cell
        if key == "hidden":
            kind, nargs = int, "+"
        else:
            types = value["type"] if isinstance(value["type"], list) else [value["type"]]
            kind, nargs = TYPES[next(t for t in types if t != "null")], None
        choices = " or ".join(value.get("enum", ()))
        help_text = "; ".join(filter(None, [prop.get("description"), choices]))
        p.add_argument(f"--{key.replace('_', '-')}", type=kind, nargs=nargs,
                       help=f"{help_text} (default {prop['default']})")
    return settings


def parse_args(argv=None) -> Job:
    p = argparse.ArgumentParser(prog="python -m decaylab.cli", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--job", type=Path, help="YAML/JSON job file (`runs` plus how to train them); "
                   "overrides every other flag")
    settings = _setting_flags(p)
    p.add_argument("--seed", type=int, nargs="+", default=[0], help="one or more seeds (one run each)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--accelerator", default="auto", help="Lightning accelerator: auto, cpu, gpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--experiment", default=defaults(schema())["experiment"], help="MLflow experiment name")
    p.add_argument("--out", type=Path, default=Path("results/runs/manual"),
                   help="output folder; with several seeds, one subfolder seed~S each")
    args = p.parse_args(argv)
    if args.job:
        return Job.from_dict(yaml.safe_load(args.job.read_text()))
    given = {key: [getattr(args, key)] if key in AXES else getattr(args, key)
             for key in settings if getattr(args, key) is not None}
    s = check_settings(given, "command line")
    own = {key: value[0] if key in AXES else value for key, value in s.items() if key in settings}
    runs = tuple(Run(**{**own, "hidden": tuple(own["hidden"]), "lam": float(own["lam"]), "eta": float(own["eta"])},
                     seed=seed, out=str(args.out / f"seed~{seed}") if len(args.seed) > 1 else str(args.out))
                 for seed in args.seed)
    return Job(runs, name="cli", dtype=args.dtype, accelerator=args.accelerator, threads=args.threads,
               experiment=args.experiment)


def main(argv=None) -> int:
    from decaylab.train import run_job

    try:
        run_job(parse_args(argv))
    except (ValueError, ExpectedError) as exc:
        print(f"decaylab: error: {exc}", file=sys.stderr)
        return 2
    except JobKilled as exc:
        print(f"decaylab: killed by {exc}", file=sys.stderr)
        return 143
    return 0


if __name__ == "__main__":
    sys.exit(main())
