"""Weight initialization schemes: one named function each, registered in INITS.

A scheme maps (n_out, n_in, generator) to a float64 weight matrix. Biases are
always N(0, 1), as in the book, and are drawn by the caller.
"""

import math
from collections.abc import Callable

import torch

InitFn = Callable[[int, int, torch.Generator], torch.Tensor]


def standard(n_out: int, n_in: int, gen: torch.Generator) -> torch.Tensor:
    """The book's old approach: every weight N(0, 1)."""
    return torch.randn(n_out, n_in, generator=gen, dtype=torch.float64)


def scaled(n_out: int, n_in: int, gen: torch.Generator) -> torch.Tensor:
    """The book's new approach: weights N(0, 1/n_in)."""
    return torch.randn(n_out, n_in, generator=gen, dtype=torch.float64) / math.sqrt(n_in)


INITS: dict[str, InitFn] = {"standard": standard, "scaled": scaled}


def init_network(sizes: list[int], scheme: str, seed: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Weights and biases of one network, drawn in float64 from its own generator.

    Drawing in float64 and casting afterwards gives the same network whatever
    precision the run trains in.
    """
    gen = torch.Generator().manual_seed(seed)
    weights, biases = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        weights.append(INITS[scheme](n_out, n_in, gen))
        biases.append(torch.randn(n_out, generator=gen, dtype=torch.float64))
    return weights, biases
