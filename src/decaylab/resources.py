"""What a training job needs, estimated before anything runs: memory (refused when the machine has less) and time.

Memory: the job's data (every split, as floats), K networks with their copies and per-epoch statistics, and the
evaluation's activations (K x 10,000-example chunks x the widest layer), plus a fixed allowance for Python,
torch and Lightning (a grid job measured 0.97 GB at its peak). Time: per network and epoch, weights x (training
examples x a training cost + evaluated examples x an evaluation cost), both fitted to the `book` study's jobs
(two at a time on two cores). Both are estimates and are printed as such.
"""

import os

from decaylab.data import SOURCES
from decaylab.errors import ExpectedError
from decaylab.spec import Job

BASE_BYTES = 600e6  # Python, torch and Lightning in a training job
COPIES_OF_WEIGHTS = 6  # weights, epoch-start clones, step statistics, update temporaries
EVAL_CHUNK = 10_000  # examples per evaluation chunk (instrument.cost_and_accuracy)
TRAIN_S = 3.9e-10  # seconds per weight and training example (SGD step with every measurement)
EVAL_S = 2.4e-10  # seconds per weight and evaluated example (train, validation and test each epoch)


class ResourceError(ExpectedError):
    """A study's jobs would not fit this machine; the message gives the estimate and what to lower."""


def _layers(job: Job) -> list[int]:
    source = SOURCES[job.shared.dataset]
    return [source.pixels, *job.shared.hidden, source.classes]


def _weights(sizes: list[int]) -> int:
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def _examples(job: Job) -> int:
    """Examples of every split the job evaluates each epoch."""
    run = job.shared
    return sum(size or full for size, full in zip((run.train_size, run.validation_size, run.test_size),
                                                  SOURCES[run.dataset].sizes))


def job_memory(job: Job, itemsize: int = 4) -> float:
    """Estimated peak bytes of one training job."""
    k, sizes, examples = len(job.runs), _layers(job), _examples(job)
    weights = _weights(sizes)
    chunk = min(EVAL_CHUNK, examples)
    return (BASE_BYTES + examples * (sizes[0] + sizes[-1]) * itemsize + COPIES_OF_WEIGHTS * k * weights * itemsize
            + (chunk * sizes[0] + 2 * k * chunk * max(sizes[1:])) * itemsize)


def job_seconds(job: Job) -> float:
    """Estimated wall time of one training job on one CPU thread."""
    per_epoch = _weights(_layers(job)) * (TRAIN_S * job.shared.n + EVAL_S * _examples(job))
    return len(job.runs) * job.shared.epochs * per_epoch


def machine_memory() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def plan(study: str, n_runs: int, jobs: list[Job], available: float | None = None) -> str:
    """One line: runs, jobs, the largest job's memory and the longest job's time; ResourceError if a job cannot fit."""
    available = available or machine_memory()
    largest, longest = max(jobs, key=job_memory), max(jobs, key=job_seconds)
    if job_memory(largest) > available:
        raise ResourceError(
            f"study {study}: job {largest.name} ({len(largest.runs)} networks, hidden {list(largest.shared.hidden)}) "
            f"would need about {job_memory(largest) / 1e9:.1f} GB, more than this machine's {available / 1e9:.1f} GB; "
            "lower members_per_job or the widths. Nothing was started.")
    minutes = job_seconds(longest) / 60
    duration = f"about {minutes:.0f} min" if minutes >= 1 else "under a minute"
    return (f"study {study}: {n_runs} runs in {len(jobs)} training job{'s' * (len(jobs) > 1)}; the largest needs "
            f"about {job_memory(largest) / 1e9:.1f} GB, the longest {duration} on one CPU thread (estimates)")
