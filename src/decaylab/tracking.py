"""MLflow tracking: the store, race-free experiment setup, and one run per member.

The default store is an embedded SQLite file (sqlite:///mlflow.db), overridden
by MLFLOW_TRACKING_URI (a tracking server on a cluster). MLflow's ./mlruns
file store is never used. Metrics go out once per epoch in one batch call.
"""

import fcntl
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlparse

from decaylab.errors import ExpectedError
from decaylab.spec import literal

DEFAULT_URI = "sqlite:///mlflow.db"
UI_ADDRESS = "http://127.0.0.1:5000"  # where `mlflow ui` serves by default
RUN_DIR_TAG = "decaylab.out"
RESULTS_TAG = "decaylab.results"
SUPERSEDED_TAG = "decaylab.superseded"
NOTE_TAG = "mlflow.note.content"  # the description the UI shows for a run or an experiment


class TrackingError(ExpectedError):
    """The tracking store cannot be reached or used; the message says which and why."""


def tracking_uri() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    scheme = urlparse(uri).scheme
    if scheme in ("", "file"):
        raise TrackingError(f"MLFLOW_TRACKING_URI={uri!r}: MLflow's file store is not supported; "
                            f"use {DEFAULT_URI} or an http(s):// tracking server.")
    return uri


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail at once, with the address, when an http(s) tracking server does not answer."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("http", "https"):
        return
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((parsed.hostname, port), timeout=timeout).close()
    except OSError as exc:
        raise TrackingError(f"MLflow tracking server {uri} is unreachable ({exc}); start it or fix "
                            "MLFLOW_TRACKING_URI. Nothing was trained.") from exc


@contextmanager
def _first_use_lock(uri: str):
    """Serialize first use of a SQLite store: parallel alembic migrations corrupt a new database."""
    parsed = urlparse(uri)
    if parsed.scheme != "sqlite":
        yield
        return
    db = Path(uri.removeprefix("sqlite:///"))
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{db}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def client_and_experiment(name: str):
    """An MlflowClient on the configured store and the id of experiment `name`, created once."""
    uri = tracking_uri()
    check_reachable(uri)
    from mlflow.tracking import MlflowClient

    with _first_use_lock(uri):
        client = MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return client, experiment.experiment_id
        try:
            return client, client.create_experiment(name, artifact_location=_artifact_location(uri, name))
        except Exception:  # another process (e.g. behind a server) created it first
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
            return client, experiment.experiment_id


def _artifact_location(uri: str, name: str) -> str | None:
    """Artifacts of a SQLite store go beside the database (mlartifacts/), never into ./mlruns."""
    if urlparse(uri).scheme != "sqlite":
        return None  # the tracking server decides
    return (Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts" / name).as_uri()


def quoted(value: str) -> str:
    """A string literal for an MLflow filter, in the quote character the value does not contain."""
    for mark in ("'", '"'):
        if mark not in value:
            return f"{mark}{value}{mark}"
    raise TrackingError(f"{value!r} holds both quote characters and cannot be searched for in MLflow; rename it.")


def supersede(client, experiment_id: str, tag: str, value: str) -> None:
    """Earlier runs whose tag `tag` is `value` are retired: any left RUNNING by a process that died (SIGKILL) is
    marked KILLED, each is tagged superseded and deleted (MLflow's soft delete: the UI lists it under
    "Deleted", from where it can be restored). So each run folder, and each study, has one live run."""
    for run in client.search_runs([experiment_id], filter_string=f"tags.`{tag}` = {quoted(value)}"):
        if run.info.status == "RUNNING":
            client.set_terminated(run.info.run_id, status="KILLED")
        client.set_tag(run.info.run_id, SUPERSEDED_TAG, "true")
        client.delete_run(run.info.run_id)


def runs_address(experiment_id: str, study: str, ui: str = UI_ADDRESS) -> str:
    """The UI's runs table of an experiment filtered to one study (the experiment's own page opens on GenAI
    traces instead, and its table pages through the runs of every study)."""
    search = quote(f"tags.`decaylab.study` = {quoted(study)}", safe="")
    return f"{ui}/#/experiments/{experiment_id}/runs?workflowType=machine_learning&searchFilter={search}"


class TrackedRun:
    """One run's MLflow run: params and tags at start, a metric batch per epoch, a final status."""

    def __init__(self, client, experiment_id: str, name: str, params: dict, tags: dict):
        from mlflow.entities import Param

        self.client, self.ended = client, False
        self.run_id = client.create_run(experiment_id, run_name=name, tags=tags).info.run_id
        client.log_batch(self.run_id, params=[Param(k, literal(v)) for k, v in params.items() if v not in (None, "")])

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(k, v, now, epoch) for k, v in metrics.items()]
        for lo in range(0, len(batch), 1000):  # MLflow's limit per batch call
            self.client.log_batch(self.run_id, metrics=batch[lo : lo + 1000])

    def log_artifact(self, path: Path) -> None:
        self.client.log_artifact(self.run_id, str(path))

    def finish(self, status: str, tags: dict | None = None) -> None:
        for key, value in (tags or {}).items():
            self.client.set_tag(self.run_id, key, value)
        self.client.set_terminated(self.run_id, status=status)
        self.ended = True


def start_study_run(experiment: str, study: str, results: str) -> dict:
    """The study's parent run (its grid points become child runs); returns what jobs need to attach.

    A parent started earlier for the same results folder is retired (see `supersede`): one live study.
    """
    from decaylab.glossary import experiment_note

    client, experiment_id = client_and_experiment(experiment)
    client.set_experiment_tag(experiment_id, NOTE_TAG, experiment_note())
    results = str(Path(results).resolve())
    supersede(client, experiment_id, RESULTS_TAG, results)
    run = client.create_run(experiment_id, run_name=f"study {study}",
                            tags={"decaylab.study": study, "decaylab.role": "study", RESULTS_TAG: results})
    return {"tracking_uri": tracking_uri(), "experiment": experiment, "experiment_id": experiment_id,
            "parent_run_id": run.info.run_id, "runs_address": runs_address(experiment_id, study)}


def publish_study(parent: dict, note: str, params: dict, tags: dict, metrics: dict, files: list[Path]) -> None:
    """Make the study's parent run its home page: description, params, tags, headline metrics, artifacts."""
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=parent["tracking_uri"])
    run_id, now = parent["parent_run_id"], int(time.time() * 1000)
    client.log_batch(run_id, params=[Param(k, literal(v)) for k, v in params.items()],
                     tags=[RunTag(NOTE_TAG, note), *(RunTag(k, v) for k, v in tags.items())],
                     metrics=[Metric(k, v, now, 0) for k, v in metrics.items()])
    for path in files:
        client.log_artifact(run_id, str(path), artifact_path="figures" if path.parent.name == "figures" else None)


def browse_hint(parent: dict) -> str:
    """Where a study's runs are in the UI, and how to start it."""
    return (f"runs: {parent['runs_address']} "
            f"(start the UI: .venv/bin/mlflow ui --backend-store-uri {parent['tracking_uri']})")


def end_study_run(parent: dict, status: str) -> None:
    from mlflow.tracking import MlflowClient

    MlflowClient(tracking_uri=parent["tracking_uri"]).set_terminated(parent["parent_run_id"], status=status)
