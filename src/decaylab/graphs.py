"""Training steps replayed as a CUDA graph.

On a GPU the step is bound by kernel launches (~30 small kernels per step, whatever K), so a run of full
mini-batch steps is captured once per fit and replayed: the steps' rows (as indices), their constants
(Hyper's tables) and their statistics rows live in static buffers, refilled before and copied out after each
replay. Weights, biases and StepStats' sums are updated in place (StepStats restarts in its own buffers every
epoch), so the graph needs nothing else; 3-8x faster than launching the same kernels eagerly on an H200
(benchmarks/gpu.md). On any other device `run` executes the same code on the same buffers eagerly (what the
CPU tests check).
"""

import torch

from decaylab.network import Hyper, StepStats, sgd_steps


def graphed(device: torch.device) -> bool:
    """Whether training steps on this device are replayed as CUDA graphs."""
    return device.type == "cuda"


class _Constants:
    """What sgd_steps reads from a Hyper, for the `steps` steps from the step given to `refill` (graphs run only
    where one segment holds the epoch: EnsembleModule)."""

    def __init__(self, hyper: Hyper, steps: int):
        self.hyper, self.steps, self.t, self.step = hyper, steps, 0, 0
        self.scale, self.inverse = hyper.scale[: steps + 1].clone(), hyper.inverse[: steps + 1].clone()
        self.tail = hyper.tail[:steps].clone()

    def eta_over(self, m_b: int) -> torch.Tensor:
        return self.hyper.eta_over(m_b)

    def make_room(self, weights, steps: int) -> None:
        """Nothing to renormalize inside one segment."""

    def refill(self, t0: int) -> None:
        self.scale.copy_(self.hyper.scale[t0 : t0 + self.steps + 1])
        self.inverse.copy_(self.hyper.inverse[t0 : t0 + self.steps + 1])
        self.tail.copy_(self.hyper.tail[t0 : t0 + self.steps])
        self.t = self.step = 0


class _Rows:
    """A StepStats that writes the replayed steps' rows into a static buffer and sums into the epoch's own."""

    record = StepStats.record

    def __init__(self, stats: StepStats, steps: int):
        self.rows, self.steps_done, self.tail_sums = stats.rows[:steps].clone(), 0, stats.tail_sums


class StepGraph:
    """`steps` full mini-batch steps (a multiple of at_once, taken at_once at a time as in training_step)."""

    def __init__(self, weights, biases, data: dict[str, torch.Tensor], hyper: Hyper, stats: StepStats | None,
                 streams: int, m: int, steps: int, at_once: int):
        self.weights, self.biases, self.data, self.hyper, self.stats = weights, biases, data, hyper, stats
        self.m, self.steps, self.at_once = m, steps, at_once
        self.index = torch.zeros(streams, steps * m, dtype=torch.long, device=weights[0].device)
        self.constants = _Constants(hyper, steps)
        self.rows = _Rows(stats, steps) if stats is not None else None
        self.graph, self.warm = None, False

    def _steps(self) -> None:
        g, width = len(self.index), self.at_once * self.m
        bounds = list(range(0, width + 1, self.m))
        for lo in range(0, self.steps * self.m, width):
            idx = self.index[:, lo : lo + width].reshape(-1)
            x = torch.index_select(self.data["train_x"], 0, idx).view(g, width, -1)
            y = torch.index_select(self.data["train_onehot"], 0, idx).view(g, width, -1)
            sgd_steps(self.weights, self.biases, x, y, bounds, self.constants, self.rows)

    def run(self, order: torch.Tensor, t0: int) -> None:
        """Steps t0 .. t0 + steps - 1 of the epoch whose data order is `order` (streams, n)."""
        self.index.copy_(order[:, t0 * self.m : (t0 + self.steps) * self.m])
        self.constants.refill(t0)
        if self.rows is not None:
            self.rows.steps_done = 0
        if not graphed(self.index.device):
            self._steps()
        elif not self.warm:  # the first block eagerly, on a side stream as capture asks (cuBLAS, allocator)
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                self._steps()
            torch.cuda.current_stream().wait_stream(side)
            self.warm = True
        else:
            if self.graph is None:
                self.graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(self.graph):
                    self._steps()
                self.constants.t = self.constants.step = 0
            self.graph.replay()
        if self.stats is not None:
            self.stats.rows[t0 : t0 + self.steps].copy_(self.rows.rows)
            self.stats.steps_done += self.steps
        self.hyper.t += self.steps
        self.hyper.step += self.steps
