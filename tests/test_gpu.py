"""The CUDA path: a member trained on the GPU computes what the CPU computes.

CI has no GPU: there the GPU case is skipped, and the same comparison runs between two CPU fits that must agree
although they cut the epoch into different blocks (so the comparison itself is exercised on every machine).
"""

import pytest
import torch
from conftest import Collect, make_job, make_run

from decaylab.train import fit_ensemble

MEMBERS = (make_run("standard", 5.0, 0.5, 0, "a"), make_run("scaled", 0.0, 2.0, 1, "b"))


def _fit(accelerator, splits, block_steps=64):
    job = make_job(None, MEMBERS, hidden=(16, 12), m=3, epochs=1, accelerator=accelerator, block_steps=block_steps)
    return _fit_job(job, splits)


def _fit_job(job, splits):
    rec = Collect()
    return fit_ensemble(job, splits, rec), rec.epochs


def _assert_same_run(a, b, steps=200):
    """Same weights to 1e-9 after `steps` steps, and the same metrics at every epoch."""
    (module_a, metrics_a), (module_b, metrics_b) = a, b
    assert module_a.n_steps == module_b.n_steps == steps
    for wa, wb in zip(module_a.weights + module_a.biases, module_b.weights + module_b.biases):
        torch.testing.assert_close(wa.cpu(), wb.cpu(), rtol=0, atol=1e-9)
    assert metrics_a.keys() == metrics_b.keys()
    for epoch, metrics in metrics_b.items():
        assert metrics_a[epoch].keys() == metrics.keys()
        for key, value in metrics.items():
            torch.testing.assert_close(torch.as_tensor(metrics_a[epoch][key]), torch.as_tensor(value),
                                       rtol=1e-7, atol=1e-9)


def test_block_size_changes_no_number(synthetic):
    one, many = _fit("cpu", synthetic, block_steps=1), _fit("cpu", synthetic, block_steps=64)
    assert one[0].trained_on == "cpu"
    _assert_same_run(one, many)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible")
def test_gpu_ensemble_matches_cpu_after_200_steps(synthetic):
    gpu, cpu = _fit("gpu", synthetic), _fit("cpu", synthetic)
    assert gpu[0].trained_on.startswith("cuda") and cpu[0].trained_on == "cpu"
    _assert_same_run(gpu, cpu)


def _packed_job(tmp_path, dtype, accelerator="cpu"):
    """2 seeds x 2 cells (two streams of two members), m=7 (a short last step), 2 epochs of 86 steps in
    40-step blocks: graph replays, then the rest of each epoch eagerly."""
    members = [make_run("standard", lam, eta, seed, f"{seed}-{lam}") for seed in (0, 1)
               for lam, eta in ((5.0, 0.5), (0.0, 2.0))]
    return make_job(tmp_path, members, m=7, epochs=2, block_steps=40, dtype=dtype, accelerator=accelerator)


def _assert_identical(a, rec_a, b, rec_b):
    for wa, wb in zip(a.weights + a.biases, b.weights + b.biases):
        assert torch.equal(wa.cpu(), wb.cpu())
    for epoch, metrics in rec_a.epochs.items():
        for key, value in metrics.items():
            assert (rec_b.epochs[epoch][key] == value).all(), key


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible")
def test_gpu_graph_replays_match_cpu_and_eager_gpu(tmp_path, synthetic, monkeypatch):
    """On CUDA the packed, instrumented job runs as captured graphs (one capture per fit, replayed across
    epochs): float64 equals the CPU to 1e-9 (weights and every metric); float32 equals the same job run
    eagerly on the GPU bit for bit."""
    import decaylab.module

    gpu = _fit_job(_packed_job(tmp_path, "float64", "gpu"), synthetic)
    assert gpu[0].trained_on.startswith("cuda") and gpu[0].graph.graph is not None  # captured and replayed
    _assert_same_run(gpu, _fit_job(_packed_job(tmp_path, "float64"), synthetic), steps=86)
    graphed = fit_ensemble(_packed_job(tmp_path, "float32", "gpu"), synthetic, rec_graphed := Collect())
    monkeypatch.setattr(decaylab.module, "graphed", lambda device: False)
    eager = fit_ensemble(_packed_job(tmp_path, "float32", "gpu"), synthetic, rec_eager := Collect())
    assert eager.graph is None
    _assert_identical(graphed, rec_graphed, eager, rec_eager)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_graph_path_on_static_buffers_changes_no_number(tmp_path, synthetic, monkeypatch, dtype):
    """The CUDA-graph path (graphs.StepGraph: static index, constant and statistics buffers refilled per replay)
    run eagerly on the CPU gives bit for bit what the plain loop gives; 2 seeds x 2 cells, m=7 (a short last
    step), 40-step blocks (replays, then the rest of the epoch eagerly)."""
    import decaylab.graphs
    import decaylab.module

    job = _packed_job(tmp_path, dtype)
    plain = fit_ensemble(job, synthetic, rec_plain := Collect())
    replays = []
    original_run = decaylab.graphs.StepGraph.run

    def counted(graph, order, t0):
        replays.append(t0)
        original_run(graph, order, t0)

    monkeypatch.setattr(decaylab.module, "graphed", lambda device: True)
    monkeypatch.setattr(decaylab.graphs.StepGraph, "run", counted)
    graphed = fit_ensemble(job, synthetic, rec_graphed := Collect())
    assert replays == [0, 40] * 2  # steps 80..85 of each epoch ran eagerly
    _assert_identical(plain, rec_plain, graphed, rec_graphed)
