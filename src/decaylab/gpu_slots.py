"""One GPU per running job on a multi-GPU machine (Snakemake assigns no device ids).

Snakemake's `--resources gpu=G` caps how many GPU jobs run at once; this gives each of them its own
device: a job takes the first free slot (an exclusive lock file per slot, released by the OS when the
process ends, even on SIGKILL) and sees only that device through CUDA_VISIBLE_DEVICES. With
DECAYLAB_JOBS_PER_GPU=k, k jobs share each device (asked for explicitly).
"""

import fcntl
import os
from pathlib import Path

DEFAULT_DIR = Path(os.environ.get("DECAYLAB_GPU_SLOTS_DIR", f"/tmp/decaylab-gpu-slots-{os.getuid()}"))


class NoFreeGpu(RuntimeError):
    """Every slot is taken."""


def claim(n_devices: int, lock_dir: Path | None = None, jobs_per_gpu: int | None = None):
    """Lock a free slot and return (device id, lock handle); keep the handle open while the job runs."""
    per_gpu = jobs_per_gpu or int(os.environ.get("DECAYLAB_JOBS_PER_GPU", "1"))
    lock_dir = lock_dir or DEFAULT_DIR
    lock_dir.mkdir(parents=True, exist_ok=True)
    for slot in range(n_devices * per_gpu):
        handle = open(lock_dir / f"slot{slot}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return slot % n_devices, handle
    raise NoFreeGpu(f"all {n_devices} GPU(s) x {per_gpu} job(s) are taken; run Snakemake with "
                    f"--resources gpu={n_devices * per_gpu} so no more jobs start than there are slots.")


def pin_job_to_free_gpu(accelerator: str):
    """On a machine with several visible GPUs and no scheduler-assigned device, pin this job to one.

    Returns the lock handle to keep (None when nothing was pinned).
    """
    if accelerator == "cpu" or "CUDA_VISIBLE_DEVICES" in os.environ:
        return None  # CPU job, or a scheduler (Slurm --gpus) already chose the device
    import torch

    count = torch.cuda.device_count()
    if count < 2:
        return None
    device, handle = claim(count)
    os.environ["CUDA_VISIBLE_DEVICES"] = str(device)
    return handle
