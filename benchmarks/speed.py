"""Seconds per network-epoch of the book network (784-30-10, m=10, n=50,000), one CPU thread.

Prints, measured in this one run: a plain hand-written-backprop loop written here
(no autograd, no framework), the decaylab job (Lightning, evaluation and
instrumentation included) at K = 1 and as ensembles of K members of one seed
(K grid cells: one mini-batch stream, as `spec.jobs` packs them), their ratios
to the plain loop, the fraction of this machine's one-thread sgemm FLOP bound
for the training steps each reaches, and how much of a job's time per
network-epoch is the end-of-epoch evaluation. Since a job's time also holds
arithmetic the training bound leaves out (each epoch's evaluation; with
instrumentation, the summed weights' GEMMs), each job is also set against its
work bound (all of its GEMMs at the sgemm rate), which caps its share of the
training bound; the rate of the step's thin weight-gradient GEMM (inner
dimension = the block's rows) shows how far its shape alone falls below sgemm.
--json ends the output with one JSON line of the same figures.

    python benchmarks/speed.py [--ks 1 4 16 64] [--epochs 2] [--json]
"""

import argparse
import json
import math
import resource
import time

import numpy as np
import torch

from decaylab.data import Splits
from decaylab.instrument import cost_and_accuracy
from decaylab.network import padded_width, steps_per_gemm
from decaylab.spec import Job, Run
from decaylab.train import fit_ensemble

SIZES = [784, 30, 10]
N, M = 50_000, 10
STEPS = math.ceil(N / M)  # mini-batch steps per epoch
GRID_K, GRID_SEEDS = 72, 3  # the grid study: 3 seeds x 24 cells
THIN_K = 16  # members of the job whose thin weight-gradient GEMM is timed on its own
WEIGHTS = sum(a * b for a, b in zip(SIZES[:-1], SIZES[1:]))
EVAL_EXAMPLES = 70_000  # train, validation and test splits, every epoch
# forward and weight gradients on every layer, deltas back through all but the first
FLOP_PER_STEP = 2 * M * (2 * WEIGHTS + SIZES[1] * SIZES[2])
# per network-epoch beyond the steps: the evaluation's forward passes; instrumentation's sum_t W_t, one GEMM per
# layer of its weight gradient's size (network.StepStats)
EVAL_FLOP = 2 * EVAL_EXAMPLES * WEIGHTS
INSTRUMENT_FLOP = 2 * M * WEIGHTS * STEPS


def book_like_data() -> Splits:
    """MNIST-shaped data: 60k x 784 in [0, 1] with an always-zero border, 10 classes (content barely matters)."""
    rng = np.random.default_rng(0)
    x = rng.random((EVAL_EXAMPLES, 784), dtype=np.float32)
    x[:, :60] = 0
    y = rng.integers(0, 10, EVAL_EXAMPLES)
    return Splits(x[:50_000], y[:50_000], x[50_000:60_000], y[50_000:60_000], x[60_000:], y[60_000:])


def best_gflops(gemm, flop: float, trials: int = 5, reps: int = 20) -> float:
    """The best of `trials` timings of `reps` calls: a rate bound should not rest on one warm-up's luck."""
    gemm()
    best = math.inf
    for _ in range(trials):
        t0 = time.perf_counter()
        for _ in range(reps):
            gemm()
        best = min(best, time.perf_counter() - t0)
    return flop * reps / best / 1e9


def sgemm_gflops() -> float:
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    return best_gflops(lambda: a @ b, 2 * 1024**3, trials=10)


def thin_gemm_shape(k: int) -> tuple[int, int]:
    """The step's first-layer weight-gradient GEMM at K members of one stream: (rows, width), its inner dimension
    one block of steps' rows as network.steps_per_gemm sizes it, its width the members' padded hidden units."""
    width = k * padded_width(SIZES[1])
    return steps_per_gemm(width, M) * M, width


def thin_gemm_gflops(k: int) -> float:
    """The rate of that GEMM on its own."""
    rows, width = thin_gemm_shape(k)
    d, x, w = torch.randn(1, rows, width), torch.randn(1, rows, SIZES[0]), torch.zeros(1, width, SIZES[0])
    return best_gflops(lambda: w.baddbmm_(d.transpose(1, 2), x, alpha=-1), 2 * rows * width * SIZES[0], reps=200)


def plain_loop_epoch(data: Splits, eta=0.5, lam=5.0) -> float:
    """One epoch of the book's update, hand-written backprop, plain tensors; returns seconds."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.from_numpy(data.train_x), torch.nn.functional.one_hot(torch.from_numpy(data.train_y), 10).float()
    w1, b1 = torch.randn(30, 784, generator=g), torch.randn(30, generator=g)
    w2, b2 = torch.randn(10, 30, generator=g), torch.randn(10, generator=g)
    f = 1 - eta * lam / N
    t0 = time.perf_counter()
    perm = torch.randperm(N, generator=g)
    for lo in range(0, N, M):
        idx = perm[lo : lo + M]
        xb, yb = x[idx], y[idx]
        a1 = torch.sigmoid(torch.addmm(b1, xb, w1.T))
        a2 = torch.sigmoid(torch.addmm(b2, a1, w2.T))
        d2 = (a2 - yb) * (eta / len(idx))
        d1 = (d2 @ w2) * a1 * (1 - a1)
        w2.mul_(f).addmm_(d2.T, a1, alpha=-1)
        b2.sub_(d2.sum(0))
        w1.mul_(f).addmm_(d1.T, xb, alpha=-1)
        b1.sub_(d1.sum(0))
    return time.perf_counter() - t0


def evaluation_seconds(data: Splits, k: int) -> float:
    """One epoch's evaluation of K networks (cost and accuracy on train, validation and test), wall clock."""
    g = torch.Generator().manual_seed(0)
    weights = [torch.randn(k, n_out, n_in, generator=g) for n_in, n_out in zip(SIZES[:-1], SIZES[1:])]
    biases = [torch.randn(k, n_out, generator=g) for n_out in SIZES[1:]]
    lam = torch.full((k,), 5.0)
    splits = [(data.train_x, data.train_y), (data.val_x, data.val_y), (data.test_x, data.test_y)]
    splits = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in splits]
    t0 = time.perf_counter()
    for x, y in splits:
        cost_and_accuracy(weights, biases, lam, x, y, "bench")
    return time.perf_counter() - t0


def job_epoch_seconds(data: Splits, k: int, epochs: int, instrument: bool, accelerator: str = "cpu",
                      seeds: int = 1) -> float:
    """Per-epoch time of the decaylab job with K members, `seeds` seeds x K/seeds cells (one mini-batch stream
    per seed): (T(1 + epochs) - T(1)) / epochs, wall clock."""
    cells = k // seeds

    def run(e):
        runs = tuple(Run(dataset="bench", hidden=(30,), m=M, epochs=e, train_size=None, validation_size=None,
                         test_size=None, init="standard", lam=5.0 + i % cells, eta=0.5, seed=i // cells,
                         out=f"k{i}") for i in range(k))
        job = Job(runs, accelerator=accelerator, instrument=instrument)
        t0 = time.perf_counter()
        fit_ensemble(job, data, lambda *a: None)
        return time.perf_counter() - t0

    run(1)  # warm-up: one-time imports and allocations
    return (run(1 + epochs) - run(1)) / epochs


def gpu_table(data: Splits, args) -> None:
    """The decaylab job on the GPU (evaluation included, instrumented unless said) at each K of one seed, with
    --grid also the whole grid as one job (and without instrumentation), with --eager each again with CUDA-graph
    replay off; a markdown table."""
    from decaylab import graphs, module

    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    print("| job | steps | s per epoch | s per network-epoch |\n|---|---|---:|---:|")
    variants = [(k, 1, True) for k in args.ks] + ([(GRID_K, GRID_SEEDS, True), (GRID_K, GRID_SEEDS, False)]
                                                   if args.grid else [])
    measured = []
    for eager in (False, True) if args.eager else (False,):
        module.graphed = (lambda device: False) if eager else graphs.graphed
        for k, seeds, instrument in variants:
            per_epoch = job_epoch_seconds(data, k, args.epochs, instrument, args.accelerator, seeds)
            measured.append({"k": k, "seeds": seeds, "instrumented": instrument, "graph": not eager,
                             "s_per_epoch": round(per_epoch, 5), "s_per_net_epoch": round(per_epoch / k, 7)})
            name = f"K={k}" + (f", the grid ({seeds} seeds x {k // seeds} cells)" if seeds > 1 else "")
            name += "" if instrument else ", instrumentation off"
            print(f"| {name} | {'eager' if eager else 'graph replay'} | {per_epoch:.3f} | {per_epoch / k:.5f} |",
                  flush=True)
    if args.json:
        print(json.dumps({"device": torch.cuda.get_device_name(), "jobs": measured}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ks", type=int, nargs="+", default=[1, 4, 16, 64])
    p.add_argument("--epochs", type=int, default=2, help="timed epochs per variant")
    p.add_argument("--accelerator", default="cpu", help="cpu (the comparison above) or gpu (job variants only)")
    p.add_argument("--json", action="store_true", help="end with one JSON line: bound_s, plain_s, jobs")
    p.add_argument("--grid", action="store_true", help=f"gpu: also the whole grid as one job (K={GRID_K})")
    p.add_argument("--eager", action="store_true", help="gpu: also each job with CUDA-graph replay off")
    args = p.parse_args()
    torch.set_num_threads(1)
    data = book_like_data()
    if args.accelerator != "cpu":
        gpu_table(data, args)
        return
    gflops = sgemm_gflops()
    seconds = 1 / (gflops * 1e9)  # per FLOP at the sgemm rate
    bound, eval_bound = FLOP_PER_STEP * STEPS * seconds, EVAL_FLOP * seconds
    work_bound = {True: bound + eval_bound + INSTRUMENT_FLOP * seconds, False: bound + eval_bound}
    thin = thin_gemm_gflops(THIN_K)
    plain = min(plain_loop_epoch(data) for _ in range(2))
    print(f"one-thread sgemm: {gflops:.1f} GFLOP/s -> bound {bound:.3f} s per network-epoch "
          f"({FLOP_PER_STEP / 1e6:.2f} MFLOP per step)")
    print(f"work bound of a job (its training, evaluation and, instrumented, summed-weight GEMMs at that rate): "
          f"{work_bound[True]:.3f} instrumented, {work_bound[False]:.3f} without; so a job's share of the bound "
          f"is at most {bound / work_bound[True]:.0%} and {bound / work_bound[False]:.0%}")
    print(f"the step's weight-gradient GEMM at K={THIN_K} (inner dimension {thin_gemm_shape(THIN_K)[0]}): "
          f"{thin:.1f} GFLOP/s, {thin / gflops:.0%} of sgemm")
    print(f"{'variant':34s} {'s/net-epoch':>11s} {'vs plain':>9s} {'of bound':>9s} {'of work':>8s}")
    print(f"{'plain hand-written loop (K=1)':34s} {plain:11.3f} {1.0:9.2f} {bound / plain:9.1%} {bound / plain:8.1%}")
    measured = []
    for instrument in (True, False):
        for k in args.ks:
            per_net = job_epoch_seconds(data, k, args.epochs, instrument) / k
            measured.append({"k": k, "instrumented": instrument, "s_per_net_epoch": round(per_net, 5),
                             "of_work_bound": round(work_bound[instrument] / per_net, 4)})
            label = f"decaylab job K={k}" + ("" if instrument else ", instrumentation off")
            print(f"{label:34s} {per_net:11.3f} {per_net / plain:9.2f} {bound / per_net:9.1%} "
                  f"{work_bound[instrument] / per_net:8.1%}", flush=True)
    k_eval = max(args.ks)
    per_net = evaluation_seconds(data, k_eval) / k_eval
    print(f"of which each epoch's evaluation ({EVAL_EXAMPLES:,} examples, K={k_eval}): {per_net:.3f} s/net-epoch "
          f"(its own FLOP bound: {eval_bound:.3f})")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak_mb:.0f} MB")
    if args.json:
        print(json.dumps({"bound_s": round(bound, 5), "plain_s": round(plain, 5), "gflops": round(gflops, 2),
                          "thin_gemm_gflops": round(thin, 2), "eval_s_per_net_epoch": round(per_net, 5),
                          "work_bound_s": {"instrumented": round(work_bound[True], 5),
                                           "plain": round(work_bound[False], 5)},
                          "jobs": measured}))


if __name__ == "__main__":
    main()
