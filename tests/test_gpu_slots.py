"""The GPU slot allocator, with fake device counts on the CPU."""

import multiprocessing as mp
import os

import pytest

from decaylab import gpu_slots


def _hold(lock_dir, n_devices, per_gpu, ready, release, out):
    device, handle = gpu_slots.claim(n_devices, lock_dir, per_gpu)
    out.put(device)
    ready.release()
    release.acquire()
    handle.close()


def _claim_in_processes(tmp_path, jobs, n_devices, per_gpu=1):
    ctx = mp.get_context("spawn")
    ready, release, out = ctx.Semaphore(0), ctx.Semaphore(0), ctx.Queue()
    procs = [ctx.Process(target=_hold, args=(tmp_path, n_devices, per_gpu, ready, release, out)) for _ in range(jobs)]
    for p in procs:
        p.start()
    for _ in procs:
        assert ready.acquire(timeout=60)
    devices = sorted(out.get() for _ in procs)
    return procs, release, devices


def test_concurrent_jobs_get_distinct_gpus_and_slots_free_on_exit(tmp_path):
    procs, release, devices = _claim_in_processes(tmp_path, 4, n_devices=4)
    assert devices == [0, 1, 2, 3]
    with pytest.raises(gpu_slots.NoFreeGpu, match="--resources gpu=4"):
        gpu_slots.claim(4, tmp_path, 1)
    procs[0].kill()  # a killed job's slot comes free (the OS drops its lock)
    procs[0].join()
    device, handle = gpu_slots.claim(4, tmp_path, 1)
    assert device in range(4)
    handle.close()
    for _ in procs[1:]:
        release.release()
    for p in procs[1:]:
        p.join(timeout=30)


def test_sharing_a_gpu_only_when_asked(tmp_path):
    procs, release, devices = _claim_in_processes(tmp_path, 4, n_devices=2, per_gpu=2)
    assert devices == [0, 0, 1, 1]
    for _ in procs:
        release.release()
    for p in procs:
        p.join(timeout=30)


@pytest.fixture
def four_gpus(tmp_path, monkeypatch):
    """A machine that shows four GPUs (faked), its slot locks in a scratch folder."""
    import torch

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setattr(gpu_slots, "DEFAULT_DIR", tmp_path)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def test_a_job_on_a_multi_gpu_machine_is_pinned_to_a_free_device(four_gpus, monkeypatch):
    first = gpu_slots.pin_job_to_free_gpu("auto")
    assert first is not None and os.environ["CUDA_VISIBLE_DEVICES"] == "0"
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    second = gpu_slots.pin_job_to_free_gpu("gpu")  # the first job still holds device 0
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "1"
    first.close()
    second.close()


def test_scheduler_assigned_device_is_respected(four_gpus, monkeypatch, tmp_path):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert gpu_slots.pin_job_to_free_gpu("gpu") is None
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "3" and not list(tmp_path.iterdir())  # no slot taken
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert gpu_slots.pin_job_to_free_gpu("cpu") is None and "CUDA_VISIBLE_DEVICES" not in os.environ
