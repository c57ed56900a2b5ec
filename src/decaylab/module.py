"""The Lightning module that trains a job's K networks (its runs) in lockstep.

One Lightning batch is a block of many mini-batches (Lightning's per-step
hooks cost more than one mini-batch's arithmetic), applied with manual
optimization inside training_step. Data stays on the device; metrics stay
there until one transfer per epoch.
"""

import math
from collections.abc import Callable

import lightning.pytorch as L
import torch
from torch.utils.data import DataLoader

from decaylab import instrument
from decaylab.datamodule import JobData
from decaylab.graphs import StepGraph, graphed
from decaylab.inits import init_network
from decaylab.network import Hyper, StepStats, pad_hidden, sgd_steps, steps_per_gemm, unpad
from decaylab.spec import Job

GRAPH_STEPS = 100  # mini-batch steps per CUDA graph replay (graphs.py)
CUDA_STEPS_AT_ONCE = 16  # steps per sgd_steps call on a GPU (H200, K=72: 0.47 s per epoch's steps; 0.64 at 1)

# Receives (epoch, names, values) with values a (K, len(names)) float64 tensor on the CPU.
Recorder = Callable[[int, list[tuple[str, str]], torch.Tensor], None]


class EnsembleModule(L.LightningModule):
    """The job's K networks and their step; the data comes prepared (datamodule.JobData)."""

    def __init__(self, job: Job, data: JobData, record: Recorder):
        super().__init__()
        self.automatic_optimization = False
        self.job, self.job_data, self.record = job, data, record
        self.n, self.sizes, self.n_steps = data.n, data.sizes, data.n_steps
        dtype = getattr(torch, job.dtype)
        nets = [init_network(self.sizes, run) for run in job.runs]
        layers = range(len(self.sizes) - 1)
        padded = pad_hidden([torch.stack([ws[i] for ws, _ in nets]).to(dtype) for i in layers],
                            [torch.stack([bs[i] for _, bs in nets]).to(dtype) for i in layers])
        for i, (w, b) in enumerate(zip(*padded)):
            self.register_buffer(f"w{i}", w)
            self.register_buffer(f"b{i}", b)
        for key, tensor in data.tensors.items():
            self.register_buffer(key, tensor, persistent=False)
        self.register_buffer("lam", torch.tensor([run.lam for run in job.runs], dtype=dtype), persistent=False)
        self.predictions = instrument.shrink_predictions([run.eta for run in job.runs], [run.lam for run in job.runs],
                                                         self.n, job.shared.m)

    @property
    def padded(self) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """The trained storage: hidden layers padded with inert units (see network.py)."""
        layers = range(len(self.sizes) - 1)
        return [getattr(self, f"w{i}") for i in layers], [getattr(self, f"b{i}") for i in layers]

    @property
    def weights(self) -> list[torch.Tensor]:
        return unpad(*self.padded, self.sizes)[0]

    @property
    def biases(self) -> list[torch.Tensor]:
        return unpad(*self.padded, self.sizes)[1]

    def configure_optimizers(self):
        return None

    def train_dataloader(self):
        blocks = math.ceil(self.n_steps / self.job.block_steps)
        return DataLoader(range(blocks), batch_size=None)

    def on_train_start(self):
        self.trained_on = str(self.device)  # Lightning moves the module back to the CPU after fit
        self.hyper = Hyper([run.eta for run in self.job.runs], [run.lam for run in self.job.runs], self.n,
                           self.n_steps, self.w0.dtype, self.device)
        self.predictions = {key: value.to(self.device) for key, value in self.predictions.items()}
        self.sizes_now = instrument.weight_sizes(self.weights, self.dead)
        self._emit(0, {**self.sizes_now, **self._evaluate()})
        width = len(self.job.runs) // self.job.streams * self.w0.shape[1]  # a stream's first-layer units
        self.at_once = CUDA_STEPS_AT_ONCE if self.device.type == "cuda" else steps_per_gemm(width, self.job.shared.m)
        measured = self.job.instrument and self.job.gradient  # a pure-decay control has no split to measure
        self.stats = StepStats(self.padded[0], self.n_steps) if measured else None
        self.graph = None  # captured once per fit: its buffers (weights, stats, hyper's tables) live as long
        one_segment = self.hyper.segment == self.n_steps  # a graph's tables hold no renormalization
        if graphed(self.device) and self.job.gradient and one_segment:
            steps = self.at_once * max(1, min(GRAPH_STEPS, self.job.block_steps) // self.at_once)
            data = {"train_x": self.train_x, "train_onehot": self.train_onehot}
            self.graph = StepGraph(*self.padded, data, self.hyper, self.stats, self.job.streams, self.job.shared.m,
                                   steps, self.at_once)

    def on_train_epoch_start(self):
        self.order = self.job_data.epoch_order(self.device)
        if self.stats is not None:
            self.stats.restart(self.padded[0])

    def training_step(self, block, batch_idx):
        weights, biases = self.padded
        g, n_in, at_once = self.order.shape[0], self.train_x.shape[1], self.at_once
        start, last = block * self.job.block_steps, min((block + 1) * self.job.block_steps, self.n_steps)
        if self.graph is not None:  # replays of full steps; the rest (a short last step) below
            while start + self.graph.steps <= min(last, self.n // self.job.shared.m):
                self.graph.run(self.order, start)
                start += self.graph.steps
        for lo in range(start, last, at_once):
            bounds = self.job_data.bounds(lo, min(lo + at_once, last))
            idx = self.order[:, bounds[0] : bounds[-1]].reshape(-1)  # one gather for all streams and steps
            x = torch.index_select(self.train_x, 0, idx).view(g, -1, n_in)
            y = torch.index_select(self.train_onehot, 0, idx).view(g, -1, self.train_onehot.shape[1])
            sgd_steps(weights, biases, x, y, [b - bounds[0] for b in bounds], self.hyper, self.stats,
                      gradient=self.job.gradient)

    def on_train_epoch_end(self):
        self.hyper.fold(self.padded[0])
        sizes = instrument.weight_sizes(self.weights, self.dead)
        metrics = {**sizes, **self._evaluate()}
        metrics.update(self.predictions)
        metrics.update(instrument.shrink_controls(self.sizes_now, sizes))
        if self.stats is not None:
            metrics.update(instrument.step_split(self.stats, self.padded[0], self.hyper))
            if self.current_epoch == 0:
                metrics.update(instrument.first_epoch_points(self.stats, self.hyper))
        self.sizes_now = sizes
        self._emit(self.current_epoch + 1, metrics)

    def _evaluate(self) -> instrument.Metrics:
        w, b = unpad(*self.padded, self.sizes)
        out = instrument.probe_saturation(w, b, self.train_x[: self.job.probe_size])
        for split, x, y in (("train", self.train_x, self.train_y), ("validation", self.val_x, self.val_y),
                            ("test", self.test_x, self.test_y)):
            out.update(instrument.cost_and_accuracy(w, b, self.lam, x, y, split))
        return out

    def _emit(self, epoch: int, metrics: instrument.Metrics):
        names = list(metrics)
        values = torch.stack([metrics[k].to(torch.float64) for k in names], dim=1).cpu()  # the epoch's one sync
        self.record(epoch, names, values)
