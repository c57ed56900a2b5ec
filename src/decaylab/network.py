"""K sigmoid MLPs of one shape, trained in lockstep with hand-written backprop.

Member k follows the book's rule exactly, once per mini-batch of size m_b:
    w <- f_k * w - (eta_k / m_b) * sum_x dC_x/dw,   f_k = 1 - eta_k * lam_k / n
    b <- b - (eta_k / m_b) * sum_x dC_x/db          (biases are never decayed)
with C_x the cross-entropy summed over the output units. Tensors carry the
member as their leading dimension: weights (K, n_out, n_in), biases (K, n_out).
"""

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

Params = tuple[list[torch.Tensor], list[torch.Tensor]]


def forward(weights: list[torch.Tensor], biases: list[torch.Tensor], x: torch.Tensor):
    """Pre-activations and activations of every layer; x is (K, B, n_in) or shared (B, n_in)."""
    zs, acts = [], [x]
    for w, b in zip(weights, biases):
        z = torch.matmul(acts[-1], w.transpose(1, 2)) + b.unsqueeze(1)
        zs.append(z)
        acts.append(torch.sigmoid(z))
    return zs, acts


def cross_entropy(z_out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The book's cost per member: BCE summed over outputs, averaged over examples."""
    return F.binary_cross_entropy_with_logits(z_out, y.expand_as(z_out), reduction="none").sum(-1).mean(-1)


@dataclass
class StepStats:
    """Per-layer sums over the steps of an epoch, each (K,) unless said.

    With W' = f W - eta g and S = |W|^2 the change of S splits exactly into
    decay (f^2 - 1) S, drift -2 f eta <W, g> and noise eta^2 |g|^2.
    step_decay and step_grad sum the per-step displacement norms; w_sum sums
    W over the steps (K, n_out, n_in), which gives the summed decay displacement.
    """

    decay: list[torch.Tensor] = field(default_factory=list)
    drift: list[torch.Tensor] = field(default_factory=list)
    noise: list[torch.Tensor] = field(default_factory=list)
    step_decay: list[torch.Tensor] = field(default_factory=list)
    step_grad: list[torch.Tensor] = field(default_factory=list)
    w_sum: list[torch.Tensor] = field(default_factory=list)

    @classmethod
    def zeros_like(cls, weights: list[torch.Tensor]) -> "StepStats":
        def per_member():
            return [torch.zeros(w.shape[0], dtype=w.dtype, device=w.device) for w in weights]

        return cls(per_member(), per_member(), per_member(), per_member(), per_member(),
                   [torch.zeros_like(w) for w in weights])


class Hyper:
    """Per-member step constants: decay factor f = 1 - eta*lam/n and learning rate eta."""

    def __init__(self, eta: torch.Tensor, lam: torch.Tensor, n: int):
        self.eta = eta
        self.f = 1.0 - eta * lam / n
        self.f3 = self.f.view(-1, 1, 1)
        # One shared factor lets the update run as a single fused pass over W.
        shared = bool((self.f == self.f[0]).all()) and bool((eta == eta[0]).all())
        self.shared_f = float(self.f[0]) if shared else None


def sgd_step(weights, biases, x, y, hyper: Hyper, stats: StepStats | None = None, gradient: bool = True):
    """One mini-batch step of every member; x (K, m_b, n_in), y (K, m_b, n_out) one-hot.

    gradient=False applies the decay part alone (a pure-decay control).
    """
    if not gradient:
        for w in weights:
            w.mul_(hyper.f3)
        return
    zs, acts = forward(weights, biases, x)
    deltas = [acts[-1] - y]
    for w, a in zip(reversed(weights[1:]), reversed(acts[1:-1])):
        deltas.insert(0, torch.bmm(deltas[0], w) * a * (1 - a))
    scale = (hyper.eta / x.shape[1]).view(-1, 1, 1)
    for i, (w, b) in enumerate(zip(weights, biases)):
        d = deltas[i] * scale  # eta/m_b * delta, so eta*g = d^T a
        a_in = acts[i]
        if stats is not None:
            _record(stats, i, w, b, zs[i], a_in, d, hyper)
        if hyper.shared_f is not None:
            w.baddbmm_(d.transpose(1, 2), a_in, beta=hyper.shared_f, alpha=-1)
        else:
            w.mul_(hyper.f3).baddbmm_(d.transpose(1, 2), a_in, alpha=-1)
        b.sub_(d.sum(1))


def _record(stats: StepStats, i: int, w, b, z, a_in, d, hyper: Hyper):
    """Add one step's decomposition of layer i to the epoch sums (before W changes)."""
    s = torch.linalg.vector_norm(w, dim=(1, 2)).square()
    # <W, eta g> = sum_x d_x . (W a_x) = sum_x d_x . (z_x - b): no pass over W needed.
    w_dot_step = (d * (z - b.unsqueeze(1))).sum((1, 2))
    # |eta g|^2 = |d^T A|^2 = sum of (d d^T) * (A A^T) over the m x m Gram matrices.
    step_sq = (torch.bmm(d, d.transpose(1, 2)) * torch.bmm(a_in, a_in.transpose(1, 2))).sum((1, 2))
    f = hyper.f
    stats.decay[i] += (f * f - 1) * s
    stats.drift[i] += -2 * f * w_dot_step
    stats.noise[i] += step_sq
    stats.step_decay[i] += (1 - f) * s.sqrt()
    stats.step_grad[i] += step_sq.clamp_min(0).sqrt()
    stats.w_sum[i] += w
