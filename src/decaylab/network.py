"""K sigmoid MLPs of one shape, trained in lockstep with hand-written backprop.

Member k follows the book's rule exactly, once per mini-batch of size m_b:
    w <- f_k * w - (eta_k / m_b) * sum_x dC_x/dw,   f_k = 1 - eta_k * lam_k / n
    b <- b - (eta_k / m_b) * sum_x dC_x/db          (biases are never decayed)
with C_x the cross-entropy summed over the output units. Tensors carry the
member as their leading dimension: weights (K, n_out, n_in), biases (K, n_out).
"""

import torch
import torch.nn.functional as F

Params = tuple[list[torch.Tensor], list[torch.Tensor]]


def forward(weights: list[torch.Tensor], biases: list[torch.Tensor], x: torch.Tensor):
    """Pre-activations and activations of every layer; x is (K, B, n_in) or shared (B, n_in)."""
    zs, acts = [], [x]
    for w, b in zip(weights, biases):
        a = acts[-1]
        if a.dim() == 2:  # input shared by all members: one large GEMM, no K-fold copy of the input
            k, n_out, n_in = w.shape
            z = (a @ w.reshape(k * n_out, n_in).T).view(len(a), k, n_out).transpose(0, 1) + b.unsqueeze(1)
        else:
            z = torch.bmm(a, w.transpose(1, 2)) + b.unsqueeze(1)
        zs.append(z)
        acts.append(torch.sigmoid(z))
    return zs, acts


def cross_entropy(z_out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The book's cost per member: BCE summed over outputs, averaged over examples."""
    return F.binary_cross_entropy_with_logits(z_out, y.expand_as(z_out), reduction="none").sum(-1).mean(-1)


class StepStats:
    """Per-layer sums over the steps of an epoch, for the decomposition of the change of S = |W|^2.

    With W' = f W - eta g: dS = (f^2 - 1) S [decay] - 2 f eta <W, g> [drift] + eta^2 |g|^2 [noise].
    f is constant over an epoch, so each step only adds S, |W|, eta <W, g>, |eta g|^2 and |eta g|
    (one (5, K) tensor per layer) and W itself (for the summed decay displacement).
    """

    def __init__(self, weights: list[torch.Tensor]):
        self.sums = [torch.zeros(5, w.shape[0], dtype=w.dtype, device=w.device) for w in weights]
        self.w_sum = [torch.zeros_like(w) for w in weights]

    def add(self, i: int, w: torch.Tensor, w_dot_step: torch.Tensor, step_sq: torch.Tensor) -> None:
        norm = torch.linalg.vector_norm(w, dim=(1, 2))
        self.sums[i].add_(torch.stack([norm * norm, norm, w_dot_step, step_sq, step_sq.sqrt()]))
        self.w_sum[i].add_(w)

    def parts(self, i: int, f: torch.Tensor) -> dict[str, torch.Tensor]:
        """Layer i's epoch sums: decay, drift, noise and the summed per-step displacement lengths."""
        s, norm, w_dot_step, step_sq, step_len = self.sums[i]
        return {"decay": (f * f - 1) * s, "drift": -2 * f * w_dot_step, "noise": step_sq,
                "steplen_decay": (1 - f) * norm, "steplen_grad": step_len}


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
    acts, zws = [x], []  # zws: W a without the bias, reused by the instrumentation
    for w, b in zip(weights, biases):
        zws.append(torch.bmm(acts[-1], w.transpose(1, 2)))
        acts.append(torch.sigmoid(zws[-1] + b.unsqueeze(1)))
    # Output error of the book's cost, pre-scaled by eta/m_b so that eta*g = d^T a for every layer.
    deltas = [(acts[-1] - y) * (hyper.eta / x.shape[1]).view(-1, 1, 1)]
    for w, a in zip(reversed(weights[1:]), reversed(acts[1:-1])):
        deltas.insert(0, torch.bmm(deltas[0], w) * (a - a * a))
    for i, (w, b, d, a_in) in enumerate(zip(weights, biases, deltas, acts)):
        if stats is not None:
            # <W, eta g> = sum_x d_x . (W a_x); |eta g|^2 = sum of (d d^T) * (A A^T) over m x m Gram matrices.
            w_dot_step = (d * zws[i]).sum((1, 2))
            step_sq = (torch.bmm(d, d.transpose(1, 2)) * torch.bmm(a_in, a_in.transpose(1, 2))).sum((1, 2))
            stats.add(i, w, w_dot_step, step_sq)
        if hyper.shared_f is not None:
            w.baddbmm_(d.transpose(1, 2), a_in, beta=hyper.shared_f, alpha=-1)
        else:
            w.mul_(hyper.f3).baddbmm_(d.transpose(1, 2), a_in, alpha=-1)
        b.sub_(d.sum(1))
