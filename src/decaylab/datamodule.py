"""A job's data, prepared before training: the subsets, one-hot targets, the always-zero-pixel mask, and the
data order of each of the job's streams (a generator per seed, seeded by the seed alone, reshuffled every
epoch; the runs of one seed share it, see spec.Job.streams)."""

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
        per_stream = len(job.runs) // job.streams
        self.shufflers = [torch.Generator().manual_seed(run.shuffle_seed()) for run in job.runs[::per_stream]]

    def epoch_order(self, device) -> torch.Tensor:
        """The next epoch's data order, (streams, n): stream g's mini-batch t is row g, columns t*m .. t*m + m_b;
        each stream draws its own permutation."""
        return torch.stack([torch.randperm(self.n, generator=g) for g in self.shufflers]).to(device)

    def bounds(self, first: int, last: int) -> list[int]:
        """Column bounds of steps first .. last - 1 in an epoch's order (the last step may be short)."""
        return [min(t * self.m, self.n) for t in range(first, last + 1)]
