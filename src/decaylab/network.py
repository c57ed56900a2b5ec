"""K sigmoid MLPs of one shape, trained in lockstep with hand-written backprop.

Member k follows the book's rule exactly, once per mini-batch of size m_b:
    w <- f_k * w - (eta_k / m_b) * sum_x dC_x/dw,   f_k = 1 - eta_k * lam_k / n
    b <- b - (eta_k / m_b) * sum_x dC_x/db          (biases are never decayed)
with C_x the cross-entropy summed over the output units. Tensors carry the
member as their leading dimension: weights (K, n_out, n_in), biases (K, n_out).

For training, hidden layers are stored padded to a multiple of PAD units:
small batched GEMMs run ~1.6x faster at 32 columns than at 30 on one CPU core.
A padding unit has zero weights in and out and bias INERT_BIAS, so its
activation and delta are exactly 0 and it never changes; `unpad` gives the
real network as views.
"""

import torch
import torch.nn.functional as F

Params = tuple[list[torch.Tensor], list[torch.Tensor]]
PAD = 16
INERT_BIAS = -1e4  # sigmoid(-1e4) is exactly 0 in float32 and float64


def padded_width(n: int) -> int:
    return -(-n // PAD) * PAD


def pad_hidden(weights: list[torch.Tensor], biases: list[torch.Tensor]) -> Params:
    """Copies with every hidden layer widened to padded_width by inert units."""
    outs = [padded_width(w.shape[1]) for w in weights[:-1]] + [weights[-1].shape[1]]
    ins = [weights[0].shape[2]] + outs[:-1]
    padded_w, padded_b = [], []
    for w, b, n_out, n_in in zip(weights, biases, outs, ins):
        wp = w.new_zeros(w.shape[0], n_out, n_in)
        wp[:, : w.shape[1], : w.shape[2]] = w
        bp = b.new_full((b.shape[0], n_out), INERT_BIAS)
        bp[:, : b.shape[1]] = b
        padded_w.append(wp)
        padded_b.append(bp)
    return padded_w, padded_b


def unpad(weights: list[torch.Tensor], biases: list[torch.Tensor], sizes: list[int]) -> Params:
    """The real layers of padded storage, as views (sizes: input, hidden..., output widths)."""
    ws = [w[:, :n_out, :n_in] for w, n_in, n_out in zip(weights, sizes[:-1], sizes[1:])]
    return ws, [b[:, :n_out] for b, n_out in zip(biases, sizes[1:])]


def _layer(w: torch.Tensor, b: torch.Tensor, a: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
    """z = s W a + b for every member (s: a (K, 1, 1) scale, see Hyper; None: 1); a is (K, B, n_in) or shared
    by all members (B, n_in)."""
    if a.dim() == 2:  # one large GEMM, no K-fold copy of the input
        k, n_out, n_in = w.shape
        if scale is None:
            return torch.addmm(b.reshape(-1), a, w.reshape(k * n_out, n_in).T).view(len(a), k, n_out).transpose(0, 1)
        return torch.addcmul(b.unsqueeze(1), (a @ w.reshape(k * n_out, n_in).T).view(len(a), k, n_out).transpose(0, 1),
                             scale)
    if scale is None:
        return torch.baddbmm(b.unsqueeze(1), a, w.transpose(1, 2))
    return torch.addcmul(b.unsqueeze(1), torch.bmm(a, w.transpose(1, 2)), scale)


def forward(weights: list[torch.Tensor], biases: list[torch.Tensor], x: torch.Tensor,
            scale: torch.Tensor | None = None):
    """Pre-activations and activations of every layer; x is (K, B, n_in) or shared (B, n_in); the weights are
    scale * weights when a scale is given (training's stored V, see Hyper)."""
    zs, acts = [], [x]
    for w, b in zip(weights, biases):
        zs.append(_layer(w, b, acts[-1], scale))
        acts.append(torch.sigmoid(zs[-1]))
    return zs, acts


def output_logits(weights: list[torch.Tensor], biases: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The output layer's z alone, hidden activations computed in place (evaluation on large batches)."""
    a = x
    for w, b in zip(weights[:-1], biases[:-1]):
        a = _layer(w, b, a).sigmoid_()
    return _layer(weights[-1], biases[-1], a)


def cross_entropy(z_out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The book's cost per member: BCE summed over outputs, averaged over examples."""
    return F.binary_cross_entropy_with_logits(z_out, y.expand_as(z_out), reduction="none").sum(-1).mean(-1)


class StepStats:
    """One epoch's per-step record for the exact split of the change of S = |W|^2, per layer.

    With W' = f W - eta g: dS = (f^2 - 1) S [decay] - 2 f eta <W, g> [drift] + eta^2 |g|^2 [noise].
    Each step stores, per layer and member, <d, z> and <db, b> (their difference is
    <W, eta g> = sum_x d_x . (W a_x)) and |eta g|^2, all from the step's small tensors;
    `parts` rebuilds S_t from S_0 by the recursion above, so no step reads W for its norm.
    W itself is summed over the steps, for the epoch's summed decay displacement.
    """

    def __init__(self, weights: list[torch.Tensor], steps: int):
        k = weights[0].shape[0]
        buffer = torch.zeros(steps, 3 * len(weights), k, dtype=weights[0].dtype, device=weights[0].device)
        self.rows, self.steps_done = buffer, 0
        self._row_views = buffer.unbind(0)
        self.w_sum = [torch.zeros_like(w) for w in weights]

    def record(self, weights, biases, acts, zs, deltas, bias_steps, scale) -> None:
        """One step; the network's weights are scale * weights (see Hyper)."""
        k = weights[0].shape[0]
        values = []
        for w, b, a, z, d, db, w_sum in zip(weights, biases, acts, zs, deltas, bias_steps, self.w_sum):
            values += [torch.linalg.vecdot(d.view(k, -1), z.view(k, -1)), torch.linalg.vecdot(db, b),
                       _step_sq(d, a)]
            w_sum.addcmul_(w, scale)
        torch.stack(values, out=self._row_views[self.steps_done])
        self.steps_done += 1

    def parts(self, s0: list[torch.Tensor], f: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """Per layer: the epoch's decay, drift and noise sums, the summed per-step displacement lengths
        |(1 - f) W_t| and |eta g_t|, and S at the epoch's end as the recursion carries it (`S_end`).

        s0: |W|^2 per layer at the epoch's start. Sums run in float64.
        """
        rows = self.rows[: self.steps_done].double().view(self.steps_done, -1, 3, self.rows.shape[-1])
        w_dot_step = rows[:, :, 0] - rows[:, :, 1]  # (T, L, K)
        step_sq = rows[:, :, 2]
        f = f.double()
        s, path = torch.stack(s0).double(), []
        for c in step_sq - 2 * f * w_dot_step:
            path.append(s)
            s = f * f * s + c
        norm_sq = torch.stack(path)
        return [{"decay": (f * f - 1) * norm_sq[:, i].sum(0), "drift": -2 * f * w_dot_step[:, i].sum(0),
                 "noise": step_sq[:, i].sum(0), "steplen_decay": (1 - f) * norm_sq[:, i].sqrt().sum(0),
                 "steplen_grad": step_sq[:, i].sqrt().sum(0), "S_end": s[i]} for i in range(len(s0))]


def _step_sq(d: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """|d^T a|^2 per member, by the cheaper exact route: m x m Gram matrices or the product itself."""
    k, m, n_out = d.shape
    n_in = a.shape[2]
    if m * (n_in + n_out) < n_in * n_out:
        gram_d, gram_a = torch.bmm(d, d.transpose(1, 2)), torch.bmm(a, a.transpose(1, 2))
        return torch.linalg.vecdot(gram_d.view(k, -1), gram_a.view(k, -1))
    step = torch.bmm(d.transpose(1, 2), a).view(k, -1)
    return torch.linalg.vecdot(step, step)


class Hyper:
    """Per-member step constants and the exact decay.

    The decay factor f = 1 - eta*lam/n is held in float64 and never applied to W directly: within an epoch the
    stored V carry W_t = s_t V_t with s_t = f^t (float64, one table per epoch's steps), so the update
    W' = f W - eta g becomes V' = V - eta g / s_{t+1}. A weight without gradient (an always-zero pixel) then
    follows f^t exactly whatever the dtype; float32 cannot hold 1 - f itself below ~6e-8, and W*f rounds again
    at every step. `fold` writes W = s_t V back at the epoch's end (one rounding).
    """

    def __init__(self, etas, lams, n: int, steps: int, dtype=torch.float64, device=None):
        eta64 = torch.as_tensor(etas, dtype=torch.float64, device=device)
        self.f = 1.0 - eta64 * torch.as_tensor(lams, dtype=torch.float64, device=device) / n  # spec: eta*lam < n
        self.eta = eta64.to(dtype)
        powers = self.f.unsqueeze(0) ** torch.arange(steps + 1, dtype=torch.float64, device=device).unsqueeze(1)
        self.scale = powers.to(dtype).view(steps + 1, -1, 1, 1)  # s_t per member, (steps + 1, K, 1, 1)
        self.inverse = (1 / powers).to(dtype).view(steps + 1, -1, 1, 1)
        self.t = 0  # steps taken since the last fold
        self._eta_over_m: dict[int, torch.Tensor] = {}

    def eta_over(self, m_b: int) -> torch.Tensor:
        """eta / m_b as a (K, 1, 1) tensor, made once per batch size."""
        if m_b not in self._eta_over_m:
            self._eta_over_m[m_b] = (self.eta / m_b).view(-1, 1, 1)
        return self._eta_over_m[m_b]

    def fold(self, weights: list[torch.Tensor]) -> None:
        """Make the stored weights the network's own again (W = s_t V) and restart the scale at 1."""
        if self.t:
            for w in weights:
                w.mul_(self.scale[self.t])
        self.t = 0


def sgd_step(weights, biases, x, y, hyper: Hyper, stats: StepStats | None = None, gradient: bool = True):
    """One mini-batch step of every member; x (K, m_b, n_in), y (K, m_b, n_out) one-hot.

    The stored weights are V (see Hyper): the network's are W = s V until `hyper.fold`.
    gradient=False applies the decay part alone (a pure-decay control).
    """
    s, inverse_next = hyper.scale[hyper.t], hyper.inverse[hyper.t + 1]
    hyper.t += 1
    if not gradient:
        return
    zs, acts = forward(weights, biases, x, s)
    # Output error of the book's cost, pre-scaled by eta/m_b so that eta*g = d^T a for every layer.
    deltas = [(acts[-1] - y).mul_(hyper.eta_over(x.shape[1]))]
    for w, a in zip(reversed(weights[1:]), reversed(acts[1:-1])):
        deltas.insert(0, torch.bmm(deltas[0], w).mul_(torch.addcmul(a, a, a, value=-1)).mul_(s))
    bias_steps = [d.sum(1) for d in deltas]
    if stats is not None:
        stats.record(weights, biases, acts, zs, deltas, bias_steps, s)
    for w, b, d, a_in, db in zip(weights, biases, deltas, acts, bias_steps):
        w.baddbmm_((d * inverse_next).transpose(1, 2), a_in, alpha=-1)
        b.sub_(db)
