"""Whole training runs through Lightning: exact decay controls, determinism, ensemble == single runs."""

import json
import logging
import math
import warnings

import numpy as np
import pytest
import torch
from conftest import Collect, make_job, make_run

from decaylab.spec import ConfigError, Job
from decaylab.train import fit_ensemble


def _fit(job, splits):
    rec = Collect()
    module = fit_ensemble(job, splits, rec)
    return module, rec.epochs


def test_pure_decay_shrinks_exactly_per_epoch(tmp_path, synthetic):
    """Gradient part off, n=600 not a multiple of m=7: each epoch multiplies W by f^ceil(n/m) exactly."""
    members = [make_run("standard", 5.0, 0.5, 0, "a"), make_run("scaled", 0.3, 2.0, 1, "b")]
    job = make_job(tmp_path, members, m=7, epochs=3, gradient=False)
    _, epochs = _fit(job, synthetic)
    n = 600
    for k, mb in enumerate(members):
        predicted = (1 - mb.eta * mb.lam / n) ** math.ceil(n / 7)
        for e in (1, 2, 3):
            for layer in ("W1", "W2"):
                ratio = epochs[e][layer, "rms"][k] / epochs[e - 1][layer, "rms"][k]
                assert ratio == pytest.approx(predicted, rel=1e-12)
            assert epochs[e]["net", "pred_shrink_exact"][k] == pytest.approx(predicted, rel=1e-15)


def test_dead_pixel_weights_follow_pure_decay_with_gradients_on(tmp_path, synthetic):
    members = [make_run("standard", 5.0, 0.5, 0, "a"), make_run("standard", 0.5, 0.1, 1, "b")]
    _, epochs = _fit(make_job(tmp_path, members, m=7, epochs=3), synthetic)
    for k, mb in enumerate(members):
        predicted = (1 - mb.eta * mb.lam / 600) ** math.ceil(600 / 7)
        for e in (1, 2, 3):
            assert epochs[e]["W1", "shrink_dead"][k] == pytest.approx(predicted, rel=1e-12)
            # the active weights do feel the gradient, so their shrink differs
            assert abs(epochs[e]["W1", "shrink_active"][k] - predicted) > 1e-6


@pytest.mark.parametrize("eta_lam_over_n", [0.05, 0.5])
def test_large_decay_per_step_keeps_float32_weights_finite_and_exact(tmp_path, synthetic, eta_lam_over_n):
    """At m=2 (300 steps an epoch) the decay within one epoch leaves float32's range at eta*lam/n = 0.5: the weights
    stay finite, the dead pixels follow the float64 factor while it is a normal float32 number, and a network that
    decays to nothing (both: e^-15 an epoch or more) is collapsed, not diverged."""
    from decaylab.glossary import collapses, diverges

    run = make_run("standard", eta_lam_over_n * 600 / 0.5, 0.5, 0, "a")
    _, epochs = _fit(make_job(tmp_path, [run], m=2, epochs=3, dtype="float32"), synthetic)
    factor = 1.0
    for e in (1, 2, 3):
        assert all(math.isfinite(epochs[e][layer, "rms"][0]) for layer in ("W1", "W2"))
        assert not diverges({key: value[0] for key, value in epochs[e].items()})
        predicted = epochs[e]["net", "pred_shrink_exact"][0]
        factor *= predicted
        if factor >= torch.finfo(torch.float32).tiny:
            assert epochs[e]["W1", "shrink_dead"][0] == pytest.approx(predicted, rel=2e-3)
    named = [{f"{layer}/{metric}": value[0] for (layer, metric), value in epochs[e].items()} for e in (0, 3)]
    assert collapses(*named, classes=10)  # decay of e^-15 per epoch or more: nothing is learned


def test_epoch_decomposition_adds_up(tmp_path, synthetic):
    _, epochs = _fit(make_job(tmp_path, epochs=2), synthetic)
    for e in (1, 2):
        for layer in ("W1", "W2"):
            m = epochs[e]
            total = m[layer, "decay"] + m[layer, "drift"] + m[layer, "noise"]
            np.testing.assert_allclose(total, m[layer, "dS"], rtol=1e-9)
            # the summed displacements cannot exceed the sums of per-step lengths
            assert (m[layer, "disp_decay"] <= m[layer, "steplen_decay"] * (1 + 1e-12)).all()
            assert (m[layer, "disp_grad"] <= m[layer, "steplen_grad"] * (1 + 1e-12)).all()


def test_same_seed_same_numbers_and_instrumentation_changes_nothing(tmp_path, synthetic):
    job = make_job(tmp_path, dtype="float32", epochs=2)
    m1, e1 = _fit(job, synthetic)
    m2, e2 = _fit(job, synthetic)
    m3, _ = _fit(make_job(tmp_path, dtype="float32", epochs=2, instrument=False), synthetic)
    for key in e1[2]:
        np.testing.assert_array_equal(e1[2][key], e2[2][key])
    for a, b, c in zip(m1.weights, m2.weights, m3.weights):
        assert torch.equal(a, b) and torch.equal(a, c)
    other, _ = _fit(make_job(tmp_path, [make_run("standard", 1.0, 0.5, 1, "x")], dtype="float32"), synthetic)
    assert not torch.equal(other.weights[0], m1.weights[0])


def test_ensemble_member_equals_single_run(tmp_path, synthetic):
    """Each member computes what a single run with its seed computes (200 steps, float64, 1e-9)."""
    members = [make_run("standard", 5.0, 0.5, 0, "a"), make_run("scaled", 0.0, 2.0, 1, "b"),
               make_run("standard", 50.0, 0.1, 2, "c")]
    settings = dict(hidden=(16, 12), m=3, epochs=1, block_steps=64)
    ensemble, _ = _fit(make_job(tmp_path, members, **settings), synthetic)
    assert ensemble.n_steps == 200
    for k, mb in enumerate(members):
        single, _ = _fit(make_job(tmp_path, [mb], **settings), synthetic)
        for we, ws in zip(ensemble.weights, single.weights):
            torch.testing.assert_close(we[k], ws[0], rtol=0, atol=1e-9)
        for be, bs in zip(ensemble.biases, single.biases):
            torch.testing.assert_close(be[k], bs[0], rtol=0, atol=1e-9)


def test_job_file_goes_through_the_config_checks(tmp_path):
    """A job file given to the trainer is checked like the config: m > n, an unknown init, mixed shapes."""
    job = make_job(tmp_path).to_dict()
    with pytest.raises(ConfigError, match=r"job file runs/0/m: 601 exceeds the training-set size n=600"):
        Job.from_dict({**job, "runs": [{**job["runs"][0], "m": 601}]})
    with pytest.raises(ConfigError, match=r"job file runs/0/init/0: 'xavier' is not one of \['standard'"):
        Job.from_dict({**job, "runs": [{**job["runs"][0], "init": "xavier"}]})
    with pytest.raises(ConfigError, match=r"must share \['hidden'\]"):
        Job.from_dict({**job, "runs": [job["runs"][0], {**job["runs"][0], "hidden": [8]}]})
    assert Job.from_dict(json.loads(json.dumps(job))) == make_job(tmp_path)  # a job survives its file


def test_job_prints_no_lightning_notices(tmp_path, synthetic, caplog):
    """Lightning's tips and warnings that do not apply to a manually optimized one-device job stay out of logs."""
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.INFO):
        warnings.simplefilter("always")
        _fit(make_job(tmp_path, epochs=1), synthetic)
    texts = [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
    assert any("GPU available" in t for t in texts)  # Lightning's device line is still there
    assert not [t for t in texts if "litlogger" in t or "configure_optimizers" in t or "srun" in t], texts


def test_seed_packed_job_equals_the_same_runs_packed_by_cell(tmp_path, synthetic):
    """Runs of one seed share a mini-batch stream and a first-layer GEMM; each still computes what it computes
    packed by cell (one stream per run): 200 steps, float64, 1e-9, every metric of every epoch."""
    cells = [("standard", 5.0, 0.5), ("scaled", 0.0, 2.0), ("standard", 50.0, 0.1)]
    by_seed = [make_run(init, lam, eta, seed, f"{seed}-{i}") for seed in (0, 1) for i, (init, lam, eta)
               in enumerate(cells)]
    by_cell = [by_seed[i + 3 * seed] for i in range(3) for seed in (0, 1)]
    settings = dict(hidden=(16, 12), m=3, epochs=1, block_steps=64)
    seed_job, cell_job = make_job(tmp_path, by_seed, **settings), make_job(tmp_path, by_cell, **settings)
    assert (seed_job.streams, cell_job.streams) == (2, 6)
    (seed_module, seed_metrics), (cell_module, cell_metrics) = _fit(seed_job, synthetic), _fit(cell_job, synthetic)
    position = [by_cell.index(run) for run in by_seed]
    for a, b in zip(seed_module.weights + seed_module.biases, cell_module.weights + cell_module.biases):
        torch.testing.assert_close(a, b[position], rtol=0, atol=1e-9)
    for epoch, metrics in cell_metrics.items():
        for key, value in metrics.items():
            np.testing.assert_allclose(seed_metrics[epoch][key], value[position], rtol=1e-9, atol=1e-12)


def test_a_jobs_data_is_each_split_subset_with_its_own_seed_and_a_stream_per_seed(tmp_path, synthetic):
    """The rule the committed runs were drawn with: train, validation and test subsets seeded data_seed + 0, 1, 2;
    the output layer as wide as the classes; one-hot targets in the job's dtype; one shuffler per seed, seeded by
    the seed's shuffle seed (runs of one seed read one data order)."""
    from decaylab.data import subset
    from decaylab.datamodule import JobData

    runs = [make_run(seed=seed, lam=lam, out=tmp_path / f"{seed}-{lam}") for seed in (3, 4) for lam in (1.0, 2.0)]
    job = make_job(tmp_path, runs, train_size=100, validation_size=50, test_size=40, data_seed=7)
    data = JobData(job, synthetic)
    for k, split in enumerate(("train", "val", "test")):
        size = {"train": 100, "val": 50, "test": 40}[split]
        x, y = subset(getattr(synthetic, f"{split}_x"), getattr(synthetic, f"{split}_y"), size, 7 + k)
        assert np.array_equal(data.tensors[f"{split}_x"].numpy(), x)
        assert np.array_equal(data.tensors[f"{split}_y"].numpy(), y)
    assert data.sizes == [64, 16, 10] and data.n == 100
    assert data.tensors["train_onehot"].dtype == torch.float64
    assert data.tensors["train_onehot"].shape == (100, 10)
    assert data.tensors["train_onehot"].argmax(1).tolist() == data.tensors["train_y"].tolist()
    assert len(data.shufflers) == job.streams == 2
    for g, seed in zip(data.shufflers, (3, 4)):
        expected = torch.randperm(100, generator=torch.Generator().manual_seed(make_run(seed=seed).shuffle_seed()))
        assert torch.equal(torch.randperm(100, generator=g), expected)
