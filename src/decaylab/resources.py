"""What a training job needs, estimated before anything runs: memory (refused when the machine has less) and time.

Memory: the job's data (every split, as floats), K networks with their copies and per-epoch statistics, and the
evaluation's activations (K x 10,000-example chunks x the widest layer), plus a fixed allowance for Python,
torch and Lightning (a grid job measured 0.97 GB at its peak). Time: per network and epoch, weights x (training
examples x a training cost + evaluated examples x an evaluation cost), plus the costs that do not grow with the
weights: a job's start, a fixed cost per mini-batch step, and one per network and epoch (its measurements and its
MLflow batch); all five fitted to the committed studies' jobs. Both are estimates and are printed as such; a
study estimated to run longer than `time_limit_hours` is refused until that limit is raised.
"""

import heapq
import math
import os

from decaylab.data import SOURCES
from decaylab.errors import ExpectedError
from decaylab.spec import Job

BASE_BYTES = 600e6  # Python, torch and Lightning in a training job
COPIES_OF_WEIGHTS = 6  # weights, epoch-start clones, step statistics, update temporaries
EVAL_CHUNK = 10_000  # examples per evaluation chunk (instrument.cost_and_accuracy)
# time: fitted (non-negative least squares, relative error) to the measured wall times of the training jobs of
# grid, inits, widths (MNIST and Fashion-MNIST) and tail-off, two at a time on two cores; against all 58 jobs of
# the committed studies, the estimate is 0.68-1.09 of the measured time (median 0.96)
TRAIN_S = 5.6e-11  # seconds per weight and training example (SGD step with every measurement)
EVAL_S = 5.4e-11  # seconds per weight and evaluated example (train, validation and test each epoch)
START_S = 3.0  # a job's fixed cost after its imports: data, MLflow runs, the first epoch's setup
STEP_S = 2.6e-4  # seconds per mini-batch step of a job, whatever its size
NETWORK_EPOCH_S = 0.022  # seconds per network and epoch beside the arithmetic (measurements, MLflow batch)


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
    per_network = _weights(_layers(job)) * (TRAIN_S * job.shared.n + EVAL_S * _examples(job)) + NETWORK_EPOCH_S
    per_epoch = math.ceil(job.shared.n / job.shared.m) * STEP_S + len(job.runs) * per_network
    return START_S + job.shared.epochs * per_epoch


def study_seconds(jobs: list[Job], parallel: int) -> float:
    """Estimated wall time of the study's training with `parallel` jobs at a time (longest job first to the
    first free slot, as a scheduler that knows the times would)."""
    slots = [0.0] * max(1, min(parallel, len(jobs)))
    for seconds in sorted(map(job_seconds, jobs), reverse=True):
        heapq.heapreplace(slots, slots[0] + seconds)
    return max(slots)


ANALYSIS_S = 25.0  # aggregate, analyze, figures, report: 16-24 s per study measured here with --cores 2


def _duration(seconds: float) -> str:
    if seconds >= 5400:
        return f"about {seconds / 3600:.0f} h"
    return f"about {seconds / 60:.0f} min" if seconds >= 60 else "under a minute"


def machine_memory() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def plan(study: str, n_runs: int, jobs: list[Job], parallel: int, limit_hours: float,
         available: float | None = None) -> str:
    """One line: runs, jobs, the largest job's memory, the longest job's time and the study's with `parallel` jobs
    at a time; ResourceError if a job cannot fit the machine, or the study would run past `limit_hours`."""
    available = available or machine_memory()
    largest, longest = max(jobs, key=job_memory), max(jobs, key=job_seconds)
    if job_memory(largest) > available:
        raise ResourceError(
            f"study {study}: job {largest.name} ({len(largest.runs)} networks, hidden {list(largest.shared.hidden)}) "
            f"would need about {job_memory(largest) / 1e9:.1f} GB, more than this machine's {available / 1e9:.1f} GB; "
            "lower members_per_job or the widths. Nothing was started.")
    total = study_seconds(jobs, parallel)
    if total > limit_hours * 3600:
        raise ResourceError(
            f"study {study}: its training is estimated at {_duration(total)} with {parallel} job"
            f"{'s' * (parallel > 1)} at a time (the longest job {_duration(job_seconds(longest))}), over "
            f"time_limit_hours={limit_hours:g}. Run it anyway: add time_limit_hours={math.ceil(total / 3600)} to your "
            "--config items; or lower the epochs or the grid. Nothing was started.")
    return (f"study {study}: {n_runs} runs in {len(jobs)} training job{'s' * (len(jobs) > 1)}; the largest needs "
            f"about {job_memory(largest) / 1e9:.1f} GB, the longest {_duration(job_seconds(longest))} on one CPU "
            f"thread; the whole study {_duration(total + ANALYSIS_S)} with {parallel} job{'s' * (parallel > 1)} at "
            f"a time, training {_duration(total).removeprefix('about ')} of it (estimates)")
