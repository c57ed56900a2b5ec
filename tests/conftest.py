import pytest

from decaylab.data import load_synthetic
from decaylab.job import Job, Member


@pytest.fixture
def tracking(tmp_path, monkeypatch):
    """A fresh SQLite MLflow store for the test; returns its URI."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture(scope="session")
def synthetic():
    return load_synthetic(None)


def make_job(tmp_path, members=None, **overrides) -> Job:
    """A small synthetic job (n=600, 64-16-10) with sensible test defaults."""
    members = members or [Member("standard", 1.0, 0.5, 0, str(tmp_path / "run"))]
    settings = dict(dataset="synthetic", hidden=(16,), m=10, epochs=2, members=tuple(members),
                    accelerator="cpu", dtype="float64", block_steps=7)
    settings.update(overrides)
    return Job(**settings)


class Collect:
    """A recorder that keeps every epoch's metrics: {epoch: {(layer, metric): (K,) array}}."""

    def __init__(self):
        self.epochs = {}

    def __call__(self, epoch, names, values):
        self.epochs[epoch] = {name: values[:, j].numpy() for j, name in enumerate(names)}
