"""A job's data, prepared before training: the subsets, one-hot targets, the always-zero-pixel mask, and each
run's data order (a generator per run, seeded by the run alone, reshuffled every epoch)."""

import math

import torch

from decaylab.data import Splits, subset
from decaylab.spec import Job


class JobData:
    def __init__(self, job: Job, splits: Splits):
        shared, dtype = job.shared, getattr(torch, job.dtype)
        train_x, train_y = subset(splits.train_x, splits.train_y, shared.train_size, job.data_seed)
        val_x, val_y = subset(splits.val_x, splits.val_y, shared.validation_size, job.data_seed + 1)
        test_x, test_y = subset(splits.test_x, splits.test_y, shared.test_size, job.data_seed + 2)
        self.m, self.n = shared.m, len(train_x)
        self.sizes = [train_x.shape[1], *shared.hidden, int(splits.train_y.max()) + 1]
        self.n_steps = math.ceil(self.n / self.m)  # mini-batches per epoch, the last one possibly short
        arrays = {"train_x": train_x, "train_y": train_y, "val_x": val_x, "val_y": val_y,
                  "test_x": test_x, "test_y": test_y}
        self.tensors = {}
        for key, arr in arrays.items():
            t = torch.from_numpy(arr)
            self.tensors[key] = t.to(dtype) if t.is_floating_point() else t
        self.tensors["train_onehot"] = torch.nn.functional.one_hot(self.tensors["train_y"], self.sizes[-1]).to(dtype)
        self.tensors["dead"] = (self.tensors["train_x"] == 0).all(0)  # pixels zero in every training image
        self.shufflers = [torch.Generator().manual_seed(run.shuffle_seed()) for run in job.runs]

    def epoch_steps(self, device) -> list[torch.Tensor]:
        """The next epoch's mini-batches: one flat (K * m_b) index tensor per step, run k's examples at rows
        k*m_b .. (k+1)*m_b - 1; each run draws its own permutation."""
        perm = torch.stack([torch.randperm(self.n, generator=g) for g in self.shufflers]).to(device)
        k, m, full = len(self.shufflers), self.m, self.n // self.m
        steps = list(perm[:, : full * m].view(k, full, m).transpose(0, 1).reshape(full, k * m).unbind(0))
        if self.n % m:
            steps.append(perm[:, full * m :].reshape(-1))
        return steps
