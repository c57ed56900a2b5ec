"""MLflow tracking: the store, race-free experiment setup, and one MLflow run per run.

The default store is an embedded SQLite file (sqlite:///mlflow.db), overridden
by MLFLOW_TRACKING_URI (a tracking server on a cluster). MLflow's ./mlruns
file store is never used. Metrics go out once per epoch in one batch call.
The run folders are the source of truth and MLflow a view of them: every call to
the store is bounded (HTTP timeout and retries), and a store that fails during a
job takes the job's tracking offline, not its training (see Store); `decaylab.sync`
logs the runs it missed.
"""

import fcntl
import os
import socket
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlparse

from decaylab.errors import ExpectedError
from decaylab.spec import config_hash, literal

DEFAULT_URI = "sqlite:///mlflow.db"
UI_ADDRESS = "http://127.0.0.1:5000"  # where `mlflow ui` serves by default
RUN_DIR_TAG = "decaylab.run_folder"  # project_key of the run's folder
RESULTS_TAG = "decaylab.results_folder"  # project_key of the study's results folder
PROJECT_FILE = Path("results") / ".project"  # the project's id, beside the results it names
SUPERSEDED_TAG = "decaylab.superseded"
NOTE_TAG = "mlflow.note.content"  # the description the UI shows for a run or an experiment


class TrackingError(ExpectedError):
    """The tracking store cannot be reached or used; the message says which and why."""


BOUNDS = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "10", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
          "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}  # a dead server costs a job about a minute, not hours


def bound_store_calls() -> None:
    """MLflow's HTTP timeout and retries, bounded unless the user set them."""
    for key, value in BOUNDS.items():
        os.environ.setdefault(key, value)


class Store:
    """A job's connection to the tracking store. The first failed call takes it offline for the rest of the
    job (one line on stderr); later calls are skipped, so a dead, locked, read-only or damaged store never stops
    the training. `open` gives a Store that is offline from the start when the store cannot even be opened."""

    def __init__(self, client, experiment_id: str | None):
        self.client, self.experiment_id, self.failure = client, experiment_id, None

    @classmethod
    def open(cls, experiment: str) -> "Store":
        tracking_uri()  # a URI decaylab does not support is the user's to fix, before anything runs
        store = cls(None, None)
        opened = store.call(client_and_experiment, experiment)
        if opened:
            store.client, store.experiment_id = opened
        return store

    def close_runs(self, runs: list["TrackedRun"], status: str) -> None:
        """After a failure: one more try to end the job's MLflow runs, so that none stays RUNNING once the store
        is back (if it is still down, decaylab.sync retires them later)."""
        if self.failure and self.client is not None:
            self.failure, reason = None, self.failure
            for run in runs:
                if run.run_id is not None:
                    self.call(self.client.set_terminated, run.run_id, status=status)
            self.failure = self.failure or reason

    def call(self, fn, *args, **kwargs):
        """fn(*args, **kwargs), or None once the store has failed."""
        if self.failure:
            return None
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # any store error: MlflowException, sqlite3/SQLAlchemy, requests
            self.failure = store_failure(exc)
            print(f"decaylab: the tracking store failed ({self.failure}); training goes on, the runs are written "
                  "to their folders and logged later by `python -m decaylab.sync`", file=sys.stderr, flush=True)
            return None


def store_failure(exc: BaseException) -> str:
    """What went wrong with the store, in a line; a damaged SQLite file is named with the way out."""
    first = str(exc).splitlines()[0][:200] if str(exc) else ""
    if "not a database" in str(exc) or "malformed" in str(exc):
        db = sqlite_file(tracking_uri()) or "the store"
        return (f"{db} is damaged ({first}): move it aside (mv {db} {db}.damaged); the next run starts a new one "
                "and `python -m decaylab.sync` logs the runs it lacks")
    return f"{type(exc).__name__}: {first}"


def sqlite_file(uri: str) -> Path | None:
    """The database file of a SQLite store's URI (relative or absolute, as given), None for any other store."""
    return Path(uri.removeprefix("sqlite:///")) if urlparse(uri).scheme == "sqlite" else None


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
                            "MLFLOW_TRACKING_URI") from exc


@contextmanager
def _first_use_lock(uri: str):
    """Serialize first use of a SQLite store: parallel alembic migrations corrupt a new database."""
    db = sqlite_file(uri)
    if db is None:
        yield
        return
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{db}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def client_and_experiment(name: str):
    """An MlflowClient on the configured store and the id of experiment `name`, created once."""
    bound_store_calls()
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
    db = sqlite_file(uri)
    if db is None:
        return None  # the tracking server decides
    return (db.resolve().parent / "mlartifacts" / name).as_uri()


def project_key(folder: str | Path) -> str:
    """A folder's identity in MLflow: the project's id and the folder's path within the project (the working
    directory), so that it survives moving or copying the project, while two projects on one tracking server never
    retire each other's runs. The id is a UUID in results/.project, made once; it moves and copies with results/."""
    try:
        project = PROJECT_FILE.read_text().strip()
    except FileNotFoundError:
        PROJECT_FILE.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(PROJECT_FILE, "x") as fh:  # the first job to get here writes it; the others read it
                fh.write(uuid.uuid4().hex + "\n")
        except FileExistsError:
            pass
        project = PROJECT_FILE.read_text().strip()
    path = Path(os.path.abspath(folder))
    where = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
    return f"{project}:{where.as_posix()}"


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


def runs_address(experiment_id: str, study: str, dataset: str, ui: str = UI_ADDRESS) -> str:
    """The UI's runs table of an experiment filtered to one study on one dataset (the experiment's own page opens
    on GenAI traces instead, and its table pages through the runs of every study)."""
    search = quote(f"tags.`decaylab.study` = {quoted(study)} and tags.`decaylab.dataset` = {quoted(dataset)}",
                   safe="")
    return f"{ui}/#/experiments/{experiment_id}/runs?workflowType=machine_learning&searchFilter={search}"


def run_identity(record: dict, config: dict, commit: str | None, out: str) -> tuple[str, dict, dict]:
    """An MLflow run's name, params and tags for a run (its record and the config that determines its numbers)."""
    from decaylab.integrity import recorded_run

    run = recorded_run(record, out)
    tags = {RUN_DIR_TAG: project_key(out), "decaylab.cell": run.label(), "decaylab.study": run.study,
            "decaylab.dataset": run.dataset, "decaylab.config_hash": config_hash(config),
            "git_commit": commit or "unknown"}
    return run.label(with_seed=True), {**config, "arm": run.arm, "n": run.n}, tags


class TrackedRun:
    """One run's MLflow run: params and tags at start, a metric batch per epoch, a final status. Every call goes
    through the job's Store; `logged` says whether the MLflow run is complete."""

    def __init__(self, store: Store, name: str, params: dict, tags: dict):
        from mlflow.entities import Param

        self.store, self.ended = store, False
        created = store.call(lambda: store.client.create_run(store.experiment_id, run_name=name, tags=tags))
        self.run_id = created.info.run_id if created else None
        self._call("log_batch", params=[Param(k, literal(v)) for k, v in params.items() if v not in (None, "")])

    @property
    def logged(self) -> bool:
        return self.run_id is not None and not self.store.failure

    def _call(self, method: str, *args, **kwargs) -> None:
        if self.run_id is not None:
            self.store.call(getattr(self.store.client, method), self.run_id, *args, **kwargs)

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(k, v, now, epoch) for k, v in metrics.items()]
        for lo in range(0, len(batch), 1000):  # MLflow's limit per batch call
            self._call("log_batch", metrics=batch[lo : lo + 1000])

    def log_artifact(self, path: Path) -> None:
        self._call("log_artifact", str(path))

    def finish(self, status: str, tags: dict | None = None) -> None:
        for key, value in (tags or {}).items():
            self._call("set_tag", key, value)
        self._call("set_terminated", status=status)
        self.ended = True


def start_study_run(experiment: str, study: str, dataset: str, results: str, description: str = "",
                    params: dict | None = None) -> dict:
    """What jobs need to find the study's parent run (its grid points become child runs), starting that run with
    the study's description and setting (params) on its page; the verdicts follow when the study ends.

    A parent started earlier for the same results folder is retired (see `supersede`): one live study. A store
    that cannot be used now costs only the tracking: the jobs train offline and `decaylab.sync` files their runs.
    """
    from mlflow.entities import Param, RunTag

    from decaylab.glossary import experiment_note

    store = Store.open(experiment)
    if store.experiment_id is not None:
        store.call(store.client.set_experiment_tag, store.experiment_id, NOTE_TAG, experiment_note())
        store.call(supersede, store.client, store.experiment_id, RESULTS_TAG, project_key(results))
        run_id = store.call(_new_study_run, store.client, store.experiment_id, study, dataset, results)
        note = (f"**Study `{study}`** on {dataset}: running. {' '.join(description.split())}\n\n"
                "The four verdicts appear here when the study ends.")
        if run_id:
            store.call(store.client.log_batch, run_id, tags=[RunTag(NOTE_TAG, note)],
                       params=[Param(k, literal(v)) for k, v in (params or {}).items()])
    else:
        run_id = None
    return {"tracking_uri": tracking_uri(), "experiment": experiment, "experiment_id": store.experiment_id,
            "study": study, "dataset": dataset, "results": str(results),
            "runs_address": runs_address(store.experiment_id, study, dataset) if store.experiment_id else None,
            "study_address": study_address(store.experiment_id, run_id) if run_id else None}


def study_address(experiment_id: str, run_id: str, ui: str = UI_ADDRESS) -> str:
    """The study run's own page (its description: the study and the verdicts; its params, metrics, report)."""
    return f"{ui}/#/experiments/{experiment_id}/runs/{run_id}?workflowType=machine_learning"


def _new_study_run(client, experiment_id: str, study: str, dataset: str, results: str) -> str:
    run = client.create_run(experiment_id, run_name=f"study {study} · {dataset}",
                            tags={"decaylab.study": study, "decaylab.dataset": dataset, "decaylab.role": "study",
                                  RESULTS_TAG: project_key(results)})
    return run.info.run_id


def study_run_id(client, experiment_id: str, study: str, dataset: str, results: str) -> str:
    """The live parent run of the study whose results folder is `results`; started anew (with a notice) when it
    was deleted or is missing, so that no child or verdict goes to a deleted run."""
    with _study_lock(results):
        live = client.search_runs([experiment_id], filter_string=f"tags.`{RESULTS_TAG}` = "
                                  f"{quoted(project_key(results))} and tags.`decaylab.role` = 'study'",
                                  order_by=["attributes.start_time DESC"], max_results=1)
        if live:
            return live[0].info.run_id
        print(f"decaylab: the MLflow run of study {study} on {dataset} is missing or deleted; a new one is started",
              file=sys.stderr, flush=True)
        return _new_study_run(client, experiment_id, study, dataset, results)


@contextmanager
def _study_lock(results: str):
    """One process at a time looks up (and maybe starts) a study's run: parallel jobs start one, not several."""
    Path(results).mkdir(parents=True, exist_ok=True)
    with open(Path(results) / ".study-run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _study_client(parent: dict):
    """An MlflowClient on the study's store and its live parent run's id (see study_run_id)."""
    bound_store_calls()
    client, experiment_id = client_and_experiment(parent["experiment"])
    return client, study_run_id(client, experiment_id, parent["study"], parent["dataset"], parent["results"])


def publish_study(parent: dict, note: str, params: dict, tags: dict, metrics: dict, files: list[Path]) -> None:
    """Make the study's parent run its home page: description, params, tags, headline metrics, artifacts."""
    from mlflow.entities import Metric, Param, RunTag

    client, run_id = _study_client(parent)
    now = int(time.time() * 1000)
    client.log_batch(run_id, params=[Param(k, literal(v)) for k, v in params.items()],
                     tags=[RunTag(NOTE_TAG, note), *(RunTag(k, v) for k, v in tags.items())],
                     metrics=[Metric(k, v, now, 0) for k, v in metrics.items()])
    for path in files:
        client.log_artifact(run_id, str(path), artifact_path="figures" if path.parent.name == "figures" else None)


def browse_hint(parent: dict) -> str:
    """Where a study's runs are in the UI, and how to start it."""
    if not parent["runs_address"]:
        return "runs: not in MLflow yet (the store could not be used; see the line on pending runs)"
    page = f"the study's page: {parent['study_address']}; " if parent.get("study_address") else ""
    return (f"{page}its runs: {parent['runs_address']} "
            f"(start the UI: .venv/bin/mlflow ui --backend-store-uri {parent['tracking_uri']})")


def end_study_run(parent: dict, status: str) -> None:
    """End the study's parent run; a store that fails here costs only the run's status (one line says so)."""
    try:
        client, run_id = _study_client(parent)
        client.set_terminated(run_id, status=status)
    except Exception as exc:
        print(f"decaylab: could not end the study's MLflow run ({type(exc).__name__}); it ends at the next run of "
              "the study", file=sys.stderr)
