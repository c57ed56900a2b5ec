"""Weight initialization schemes, registered in INITS: each draws every weight from N(0, 1/fan).

A scheme maps a layer's (n_in, n_out) to its fan; the weights are N(0, 1) draws divided by sqrt(fan). Biases
are N(0, 1) as in the book, or zero (BIAS_INITS); they are drawn either way, so that the weights of a seed do not
depend on the bias init. Adding a scheme is one function here and one line in INITS: the config
schema and the trainer take their list of names from INITS. Torch is imported only to draw.
"""

import math
from collections.abc import Callable

Fan = Callable[[int, int], float]


def standard(n_in: int, n_out: int) -> float:
    """The book's old approach: every weight N(0, 1)."""
    return 1.0


def scaled(n_in: int, n_out: int) -> float:
    """The book's new approach: weights N(0, 1/n_in)."""
    return n_in


def glorot(n_in: int, n_out: int) -> float:
    """Glorot and Bengio (2010), normal form: weights N(0, 2/(n_in + n_out))."""
    return (n_in + n_out) / 2


def he(n_in: int, n_out: int) -> float:
    """He et al. (2015): weights N(0, 2/n_in)."""
    return n_in / 2


INITS: dict[str, Fan] = {"standard": standard, "scaled": scaled, "glorot": glorot, "he": he}
BIAS_INITS = {"normal": 1.0, "zero": 0.0}  # a run's `bias_init`: the standard deviation of its biases


def init_network(sizes: list[int], run):
    """A run's initial weights and biases (its `init` and `bias_init`), drawn in float64 from the run's own generator.

    Every scheme draws the same N(0, 1) numbers for a seed (scaled = standard / sqrt(n_in)), and drawing in
    float64 and casting afterwards gives the same network whatever precision the run trains in.
    """
    import torch

    gen = torch.Generator().manual_seed(run.init_seed())
    scheme = run.init
    weights, biases = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        draw = torch.randn(n_out, n_in, generator=gen, dtype=torch.float64)
        weights.append(draw / math.sqrt(INITS[scheme](n_in, n_out)))
        biases.append(torch.randn(n_out, generator=gen, dtype=torch.float64) * BIAS_INITS[run.bias_init])
    return weights, biases
