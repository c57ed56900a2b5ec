"""Train one job from the command line: `python -m decaylab.cli --help`.

Either a job file (what the Snakemake rule writes: the runs and how to train them) or one cell given by flags,
one run per seed. Both go through the config's checks (spec.check_settings) before anything is trained.
"""

import argparse
import sys
from pathlib import Path

import yaml

from decaylab.errors import ExpectedError
from decaylab.signals import JobKilled
from decaylab.spec import Job, Run, check_settings, defaults, schema


def parse_args(argv=None) -> Job:
    settings = schema()["definitions"]["settings"]["properties"]
    p = argparse.ArgumentParser(prog="python -m decaylab.cli", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Settings left out take the config schema's defaults.")
    p.add_argument("--job", type=Path, help="YAML/JSON job file (`runs` plus how to train them); "
                   "overrides every other flag")
    p.add_argument("--dataset", help=" or ".join(settings["dataset"]["enum"]))
    p.add_argument("--hidden", type=int, nargs="+", help="hidden-layer widths")
    p.add_argument("--init", help=" or ".join(settings["init"]["items"]["enum"]))
    p.add_argument("--lam", type=float, help="L2 rate lambda")
    p.add_argument("--eta", type=float, help="learning rate")
    p.add_argument("--m", type=int, help="mini-batch size")
    p.add_argument("--epochs", type=int)
    p.add_argument("--train-size", type=int, help="seeded subset of the training set (n)")
    p.add_argument("--validation-size", type=int)
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
    given = {key: getattr(args, key) for key in ("dataset", "hidden", "m", "epochs", "train_size", "validation_size")
             if getattr(args, key) is not None}
    given.update({axis: [getattr(args, axis)] for axis in ("init", "lam", "eta") if getattr(args, axis) is not None})
    if args.hidden:
        given["hidden"] = [args.hidden]
    s = check_settings(given, "command line")
    runs = tuple(Run(dataset=s["dataset"], hidden=tuple(s["hidden"][0]), m=s["m"], epochs=s["epochs"],
                     train_size=s["train_size"], validation_size=s["validation_size"], test_size=s["test_size"],
                     init=s["init"][0], lam=float(s["lam"][0]), eta=float(s["eta"][0]), seed=seed,
                     out=str(args.out / f"seed~{seed}") if len(args.seed) > 1 else str(args.out))
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
