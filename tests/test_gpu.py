"""The CUDA path: a member trained on the GPU computes what the CPU computes (run where a GPU is visible).

CI has no GPU, so there these tests are skipped; everything but the device itself is tested on the CPU by
test_training.py (same module, same code path with accelerator="cpu").
"""

import pytest
import torch
from conftest import Collect

from decaylab.job import Job, Member
from decaylab.train import fit_ensemble

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible")


def _fit(accelerator, members, splits, **kw):
    job = Job(dataset="synthetic", hidden=(16, 12), m=3, epochs=1, members=tuple(members), accelerator=accelerator,
              dtype="float64", block_steps=64, **kw)
    rec = Collect()
    return fit_ensemble(job, splits, rec), rec.epochs


def test_gpu_ensemble_matches_cpu_after_200_steps(synthetic):
    members = [Member("standard", 5.0, 0.5, 0, "a"), Member("scaled", 0.0, 2.0, 1, "b")]
    gpu, gpu_metrics = _fit("gpu", members, synthetic)
    cpu, cpu_metrics = _fit("cpu", members, synthetic)
    assert gpu.trained_on.startswith("cuda") and cpu.trained_on == "cpu" and len(gpu.steps) == 200
    for wg, wc in zip(gpu.weights, cpu.weights):
        torch.testing.assert_close(wg.cpu(), wc, rtol=0, atol=1e-9)
    for key in cpu_metrics[1]:
        torch.testing.assert_close(torch.as_tensor(gpu_metrics[1][key]), torch.as_tensor(cpu_metrics[1][key]),
                                   rtol=1e-7, atol=1e-9)
