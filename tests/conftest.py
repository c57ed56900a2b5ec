import os
from dataclasses import replace
from pathlib import Path

import pytest

from decaylab.data import load_synthetic
from decaylab.spec import SHARED, Job, Run


@pytest.fixture
def tracking(tmp_path, monkeypatch):
    """A fresh SQLite MLflow store for the test; returns its URI."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE_SNAPSHOTS = "DECAYLAB_UPDATE_SNAPSHOTS"


@pytest.fixture
def snapshot():
    """check(name, text): text must equal tests/snapshots/<name>, a reviewed copy of what the code wrote.
    DECAYLAB_UPDATE_SNAPSHOTS=1 rewrites the copies (then read the diff before committing it)."""
    def check(name: str, text: str) -> None:
        path = SNAPSHOTS / name
        if os.environ.get(UPDATE_SNAPSHOTS):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        assert path.exists(), f"no snapshot {path}: run the test with {UPDATE_SNAPSHOTS}=1 and review it"
        assert text == path.read_text(), f"differs from {path} ({UPDATE_SNAPSHOTS}=1 rewrites it)"
    return check


@pytest.fixture(scope="session")
def synthetic():
    return load_synthetic(None)


def make_run(init="standard", lam=1.0, eta=0.5, seed=0, out="run", **settings) -> Run:
    """A run of the small synthetic setting (n=600, 64-16-10, m=10, 2 epochs); settings override it."""
    shared = dict(dataset="synthetic", hidden=(16,), m=10, epochs=2, train_size=None, validation_size=None,
                  test_size=None)
    return Run(**{**shared, **settings}, init=init, lam=lam, eta=eta, seed=seed, out=str(out))


def make_job(tmp_path, runs=None, **overrides) -> Job:
    """A job of small synthetic runs with test defaults (float64, CPU); shared settings and job keys override."""
    shared = {key: overrides.pop(key) for key in list(overrides) if key in SHARED}
    runs = [replace(run, **shared) for run in (runs or [make_run(out=tmp_path / "run")])]
    return Job(tuple(runs), **{"accelerator": "cpu", "dtype": "float64", "block_steps": 7, **overrides})


class Collect:
    """A recorder that keeps every epoch's metrics: {epoch: {(layer, metric): (K,) array}}."""

    def __init__(self):
        self.epochs = {}

    def __call__(self, epoch, names, values):
        self.epochs[epoch] = {name: values[:, j].numpy() for j, name in enumerate(names)}
