"""Log to MLflow every finished run that the store lacks: `python -m decaylab.sync [results/<study>/<dataset> ...]`.

A run whose job lost its tracking store (run.json: "tracking": "pending") is logged from its folder: params and
tags as training gives them, every metric at every epoch from metrics.parquet, the two files as artifacts, its
final status. An incomplete MLflow run of the same folder is retired first (see tracking.supersede), and
run.json then says "logged": running sync twice, or after a normal run, logs nothing twice.
"""

import argparse
import json
import sys
from pathlib import Path

from decaylab.integrity import METRICS


def pending_runs(results: list[Path]) -> list[Path]:
    """Run folders under the given results folders whose run.json says they are not logged."""
    def pending(path: Path) -> bool:
        try:
            return json.loads(path.read_text()).get("tracking") == "pending"
        except ValueError:
            return False  # a damaged run: the study's integrity check names it

    return [path.parent for root in results for path in sorted(root.glob("runs/**/run.json")) if pending(path)]


def pending_notice(results: Path) -> str | None:
    """The study's closing line when some of its runs are not in MLflow yet: how many, and the command."""
    pending = pending_runs([results])
    if not pending:
        return None
    total = sum(1 for _ in results.glob("runs/**/run.json"))
    return (f"decaylab: {len(pending)} of {total} runs are not in MLflow yet (its store could not be used); "
            f"log them once it is back: .venv/bin/python -m decaylab.sync {results}")


def log_run(folder: Path, client, experiment_id: str, experiment: str) -> str:
    """Log one pending run folder into an experiment; returns the new MLflow run id."""
    import pandas as pd

    from decaylab import tracking
    from decaylab.outputs import finish_tracking

    summary = json.loads((folder / "run.json").read_text())
    name, params, tags = tracking.run_identity(summary["run"], summary["config"], summary["git_commit"], str(folder))
    tracking.supersede(client, experiment_id, tracking.RUN_DIR_TAG, tags[tracking.RUN_DIR_TAG])
    record = summary["run"]
    if record.get("study") and "runs" in folder.parts:  # results/<study>/<dataset>/runs/...: under the study's run
        results = Path(*folder.parts[: folder.parts.index("runs")])
        tags["mlflow.parentRunId"] = tracking.study_run_id(client, experiment_id, record["study"], record["dataset"],
                                                           str(results))
    run = tracking.TrackedRun(tracking.Store(client, experiment_id), name, params, tags)
    table = pd.read_parquet(folder / METRICS)
    for epoch, rows in table.groupby("epoch"):
        run.log_epoch(int(epoch), {f"{r.layer}/{r.metric}": float(r.value) for r in rows.itertuples()})
    summary.update(mlflow_run_id=run.run_id, mlflow_experiment=experiment)
    if finish_tracking(run, folder, summary)["tracking"] == "pending":
        raise tracking.TrackingError(f"the store failed again while logging {folder} ({run.store.failure})")
    return run.run_id


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m decaylab.sync", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", nargs="*", type=Path, help="results/<study>/<dataset> folders (default: every study's)")
    p.add_argument("--experiment", help="MLflow experiment (default: the one each run was trained for)")
    args = p.parse_args(argv)
    from decaylab import tracking
    from decaylab.errors import ExpectedError

    folders = pending_runs(args.results or sorted(Path("results").glob("*/*/")))
    stores = {}  # experiment: (client, experiment id), opened once each
    try:
        for folder in folders:
            experiment = args.experiment or json.loads((folder / "run.json").read_text())["mlflow_experiment"]
            if experiment not in stores:
                stores[experiment] = tracking.client_and_experiment(experiment)
            log_run(folder, *stores[experiment], experiment)
    except ExpectedError as exc:
        print(f"decaylab: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the store's own errors (a damaged SQLite file, a refused write)
        print(f"decaylab: the tracking store failed ({tracking.store_failure(exc)}); nothing more was logged",
              file=sys.stderr)
        return 2
    print(f"decaylab: logged {len(folders)} run{'s' * (len(folders) != 1)} that the store lacked", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
