"""The Lightning module that trains a job's K members in lockstep.

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
from decaylab.data import Splits, subset
from decaylab.inits import init_network
from decaylab.job import Job
from decaylab.network import Hyper, StepStats, pad_hidden, sgd_step, unpad

# Receives (epoch, names, values) with values a (K, len(names)) float64 tensor on the CPU.
Recorder = Callable[[int, list[tuple[str, str]], torch.Tensor], None]


class EnsembleModule(L.LightningModule):
    def __init__(self, job: Job, splits: Splits, record: Recorder):
        super().__init__()
        self.automatic_optimization = False
        self.job, self.record = job, record
        dtype = getattr(torch, job.dtype)
        train_x, train_y = subset(splits.train_x, splits.train_y, job.train_size, job.data_seed)
        val_x, val_y = subset(splits.val_x, splits.val_y, job.validation_size, job.data_seed + 1)
        test_x, test_y = subset(splits.test_x, splits.test_y, job.test_size, job.data_seed + 2)
        self.n = len(train_x)
        if job.m > self.n:
            raise ValueError(f"m: {job.m} exceeds the training-set size n={self.n}")
        self.sizes = [train_x.shape[1], *job.hidden, int(splits.train_y.max()) + 1]
        self.n_steps = math.ceil(self.n / job.m)  # mini-batches per epoch, the last one possibly short
        nets = [init_network(self.sizes, mb.init, mb.init_seed()) for mb in job.members]
        layers = range(len(self.sizes) - 1)
        padded = pad_hidden([torch.stack([ws[i] for ws, _ in nets]).to(dtype) for i in layers],
                            [torch.stack([bs[i] for _, bs in nets]).to(dtype) for i in layers])
        for i, (w, b) in enumerate(zip(*padded)):
            self.register_buffer(f"w{i}", w)
            self.register_buffer(f"b{i}", b)
        tensors = {
            "train_x": train_x, "train_y": train_y, "val_x": val_x, "val_y": val_y,
            "test_x": test_x, "test_y": test_y,
        }
        for key, arr in tensors.items():
            t = torch.from_numpy(arr)
            self.register_buffer(key, t.to(dtype) if t.is_floating_point() else t, persistent=False)
        self.register_buffer("train_onehot", torch.nn.functional.one_hot(self.train_y, self.sizes[-1]).to(dtype),
                             persistent=False)
        self.register_buffer("dead", (self.train_x == 0).all(0), persistent=False)
        self.register_buffer("eta", torch.tensor([mb.eta for mb in job.members], dtype=dtype), persistent=False)
        self.register_buffer("lam", torch.tensor([mb.lam for mb in job.members], dtype=dtype), persistent=False)
        self.predictions = instrument.shrink_predictions([mb.eta for mb in job.members], [mb.lam for mb in job.members],
                                                         self.n, job.m)
        self.shufflers = [torch.Generator().manual_seed(mb.shuffle_seed()) for mb in job.members]

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
        self.hyper = Hyper(self.eta, self.lam, self.n)
        self.predictions = {key: value.to(self.device) for key, value in self.predictions.items()}
        self.sizes_now = instrument.weight_sizes(self.weights, self.dead)
        self._emit(0, {**self.sizes_now, **self._evaluate()})

    def on_train_epoch_start(self):
        perm = torch.stack([torch.randperm(self.n, generator=g) for g in self.shufflers]).to(self.device)
        # One flat (K * m_b) index tensor per step: member k's examples are rows k*m_b .. (k+1)*m_b - 1.
        k, m, full = len(self.job.members), self.job.m, self.n // self.job.m
        self.step_indices = list(perm[:, : full * m].view(k, full, m).transpose(0, 1).reshape(full, k * m).unbind(0))
        if self.n % m:
            self.step_indices.append(perm[:, full * m :].reshape(-1))
        weights = self.padded[0]
        self.start = [w.clone() for w in weights]
        measured = self.job.instrument and self.job.gradient  # a pure-decay control has no split to measure
        self.stats = StepStats(weights, self.n_steps) if measured else None

    def training_step(self, block, batch_idx):
        weights, biases = self.padded
        k = len(self.job.members)
        for idx in self.step_indices[block * self.job.block_steps : (block + 1) * self.job.block_steps]:
            # Gathered per step (small copies stay in cache); index_select is ~3x faster than x[idx] here.
            x = torch.index_select(self.train_x, 0, idx).view(k, -1, self.train_x.shape[1])
            y = torch.index_select(self.train_onehot, 0, idx).view(k, -1, self.train_onehot.shape[1])
            sgd_step(weights, biases, x, y, self.hyper, self.stats, gradient=self.job.gradient)

    def on_train_epoch_end(self):
        sizes = instrument.weight_sizes(self.weights, self.dead)
        metrics = {**sizes, **self._evaluate()}
        metrics.update(self.predictions)
        metrics.update(instrument.shrink_controls(self.sizes_now, sizes))
        if self.stats is not None:
            metrics.update(instrument.step_split(self.start, self.padded[0], self.stats, self.hyper.f))
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
