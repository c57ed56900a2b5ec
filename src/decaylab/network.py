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

import math

import numpy as np
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


def grouped_view(t: torch.Tensor, g: int) -> torch.Tensor:
    """A per-member (K, B, n) tensor seen as (g, B, K/g, n), group by group (a view)."""
    k = t.shape[0]
    return t.view(g, k // g, *t.shape[1:]).transpose(1, 2)


def grouped(d: torch.Tensor, g: int) -> torch.Tensor:
    """Per-member rows (K, B, n) side by side per group: (g, B, (K/g) * n), member k in group k // (K/g)."""
    return grouped_view(d, g).reshape(g, d.shape[1], -1)


def grouped_view_of(t: torch.Tensor, k: int) -> torch.Tensor:
    """A grouped (g, B, K/g * n) tensor seen as (g, B, K/g, n) (a view), the layout grouped_view gives."""
    g, rows, width = t.shape
    return t.view(g, rows, k // g, width * g // k)


def ungrouped(t: torch.Tensor, k: int) -> torch.Tensor:
    """A grouped (g, B, K/g * n) tensor as per-member (K, B, n)."""
    g, rows, width = t.shape
    return grouped_view_of(t, k).transpose(1, 2).reshape(k, rows, width * g // k)


def _layer(w: torch.Tensor, b: torch.Tensor, a: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
    """z = s W a + b for every member (s: a (K, 1, 1) scale, see Hyper; None: 1), as (K, B, n_out).

    a is (K, B, n_in), or (g, B, n_in) with g dividing K, unscaled (evaluation): the K/g members of a group
    read the same rows (a 2-D a: all members), so a group's layer is one (B x n_in)(n_in x K/g n_out) GEMM.
    """
    a = a.unsqueeze(0) if a.dim() == 2 else a
    k, n_out, n_in = w.shape
    g = a.shape[0]
    if g == k:
        if scale is None:
            return torch.baddbmm(b.unsqueeze(1), a, w.transpose(1, 2))
        return torch.addcmul(b.unsqueeze(1), torch.bmm(a, w.transpose(1, 2)), scale)
    # bias fused; for g = 1 the result is a view (evaluation's large batches are not copied)
    return ungrouped(torch.baddbmm(b.reshape(g, 1, -1), a, w.reshape(g, -1, n_in).transpose(1, 2)), k)


def forward(weights: list[torch.Tensor], biases: list[torch.Tensor], x: torch.Tensor,
            scale: torch.Tensor | None = None):
    """Pre-activations and activations of every layer; x is (g, B, n_in), g dividing K (see _layer), or shared
    (B, n_in); the weights are scale * weights when a scale is given (training's stored V, see Hyper)."""
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
    The epoch's summed weights sum_t W_t (for the summed decay displacement) are not added up step by step
    either: W_t = s_t (V_0 - sum_{u<t} eta g_u / s_{u+1}), so sum_t W_t = (sum_t s_t) V_0 - sum_u R_u eta g_u
    (R_u: Hyper.tail), and sgd_steps adds each R_u eta g_u to `tail_sums` where it updates V.
    """

    def __init__(self, weights: list[torch.Tensor], steps: int):
        k = weights[0].shape[0]
        self.rows = torch.zeros(steps, 3 * len(weights), k, dtype=weights[0].dtype, device=weights[0].device)
        self.start = [torch.empty_like(w) for w in weights]
        self.tail_sums = [torch.empty_like(w) for w in weights]
        self.restart(weights)

    def restart(self, weights: list[torch.Tensor]) -> None:
        """Begin an epoch, in the same buffers (a captured CUDA graph keeps writing to them)."""
        for start, tail, w in zip(self.start, self.tail_sums, weights):
            start.copy_(w)  # V_0 = W_0: an epoch starts folded
            tail.zero_()
        self.steps_done = 0

    def record(self, biases, acts, zs, deltas, bias_steps, input_gram: torch.Tensor) -> None:
        """One step, its tensors as sgd_steps has them (input_gram: the first layer's x x^T)."""
        k = len(biases[0])
        values = []
        for i, (b, a, z, d, db) in enumerate(zip(biases, acts, zs, deltas, bias_steps)):
            values += [torch.linalg.vecdot(d.reshape(k, -1), z.reshape(k, -1)), torch.linalg.vecdot(db, b),
                       _step_sq(d, a, input_gram if i == 0 else None)]
        torch.stack(values, out=self.rows[self.steps_done])
        self.steps_done += 1

    def weight_sums(self, total_scale: torch.Tensor) -> list[torch.Tensor]:
        """sum_t W_t over the epoch's steps, per layer (total_scale: sum_t s_t, Hyper.total_scale)."""
        return [torch.addcmul(-tail, v0, total_scale) for v0, tail in zip(self.start, self.tail_sums)]

    def parts(self, s0: list[torch.Tensor], f: torch.Tensor, steps: int | None = None) -> list[dict[str, torch.Tensor]]:
        """Per layer: the epoch's decay, drift and noise sums, the summed per-step displacement lengths
        |(1 - f) W_t| and |eta g_t|, and S at the epoch's end as the recursion carries it (`S_end`).

        s0: |W|^2 per layer at the epoch's start; steps: only the epoch's first `steps` (default: all done so far).
        Sums run in float64.
        """
        steps = self.steps_done if steps is None else steps
        rows = self.rows[:steps].double().view(steps, -1, 3, self.rows.shape[-1])
        w_dot_step = rows[:, :, 0] - rows[:, :, 1]  # (T, L, K)
        step_sq = rows[:, :, 2]
        f = f.double()
        path = _linear_recursion(torch.stack(s0).double(), f * f, step_sq - 2 * f * w_dot_step)
        norm_sq, s = path[:-1], path[-1]
        return [{"decay": (f * f - 1) * norm_sq[:, i].sum(0), "drift": -2 * f * w_dot_step[:, i].sum(0),
                 "noise": step_sq[:, i].sum(0), "steplen_decay": (1 - f) * norm_sq[:, i].sqrt().sum(0),
                 "steplen_grad": step_sq[:, i].sqrt().sum(0), "S_end": s[i]} for i in range(len(s0))]


def _linear_recursion(s0: torch.Tensor, a: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """s_0 .. s_T of s_{t+1} = a s_t + c_t per member (s0 (L, K), a (K,), c (T, L, K)), as (T + 1, L, K).

    A NumPy loop on the CPU: the same float64 operations as a tensor loop, in the same order (bit for bit), at
    ~2 us per step instead of two tensor ops (on a GPU, kernel launches) per step at every epoch's end."""
    a_np, c_np = a.cpu().numpy(), c.cpu().numpy()
    path = np.empty((len(c_np) + 1, *s0.shape))
    path[0] = s0.cpu().numpy()
    for t, c_t in enumerate(c_np):
        np.add(np.multiply(a_np, path[t], out=path[t + 1]), c_t, out=path[t + 1])
    return torch.from_numpy(path).to(c.device)


def _step_sq(d: torch.Tensor, a: torch.Tensor, gram_a: torch.Tensor | None = None) -> torch.Tensor:
    """|d^T a|^2 per member (d (K, m, n_out), a (g, m, n_in) as in _layer), by the cheaper exact route: m x m
    Gram matrices (gram_a = a a^T when known) or the product itself."""
    k, m, n_out = d.shape
    g, _, n_in = a.shape
    if m * (n_in + n_out) < n_in * n_out:
        gram_d = torch.bmm(d, d.transpose(1, 2))
        gram_a = torch.bmm(a, a.transpose(1, 2)) if gram_a is None else gram_a
        return torch.linalg.vecdot(gram_d.view(g, k // g, -1), gram_a.reshape(g, 1, -1)).view(k)
    step = torch.bmm(grouped(d, g).transpose(1, 2), a).view(k, -1)
    return torch.linalg.vecdot(step, step)


MIN_SCALE = 2.0 ** -64  # the smallest s_t between renormalizations: V = W / s_t stays far inside float32's range


class Hyper:
    """Per-member step constants and the exact decay.

    The decay factor f = 1 - eta*lam/n is held in float64 and never applied to W directly: the stored V carry
    W_t = s_t V_t with s_t = f^t (float64 tables, t the steps since the last renormalization), so the update
    W' = f W - eta g becomes V' = V - eta g / s_{t+1}. A weight without gradient (an always-zero pixel) then
    follows f^t exactly whatever the dtype; float32 cannot hold 1 - f itself below ~6e-8, and W*f rounds again
    at every step. `renormalize` writes W = s_t V back (one rounding): at the epoch's end (`fold`), and within it
    every `segment` steps, the most for which s_t stays >= MIN_SCALE (the whole epoch unless eta*lam/n is large),
    so that neither s_t nor V = W / s_t leaves float32's range; beyond that, weights without gradient reach 0.
    For StepStats, tail[u] = R_u = sum_{t=u+1}^{T-1} f^(t-u-1) and total_scale = sum_{t<T} f^t (T steps,
    t counted from the epoch's start: `step`).
    """

    def __init__(self, etas, lams, n: int, steps: int, dtype=torch.float64, device=None):
        eta64 = torch.as_tensor(etas, dtype=torch.float64, device=device)
        self.f = 1.0 - eta64 * torch.as_tensor(lams, dtype=torch.float64, device=device) / n  # spec: eta*lam < n
        self.eta = eta64.to(dtype)
        self.segment = segment_steps(self.f, steps)
        powers = self.f.unsqueeze(0) ** torch.arange(self.segment + 1, dtype=torch.float64, device=device).unsqueeze(1)
        self.scale = powers.to(dtype).view(self.segment + 1, -1, 1, 1)  # s_t per member, (segment + 1, K, 1, 1)
        self.inverse = (1 / powers).to(dtype).view(self.segment + 1, -1, 1, 1)
        if self.segment == steps:  # the epoch's powers are normal float64 numbers: sums in the order they run
            later = torch.cat([powers[:steps].flip(0).cumsum(0).flip(0), torch.zeros_like(powers[:1])])
            tail, total = later[1:] / powers[1:], later[0]
        else:  # the geometric sums in closed form, where f^t underflows float64 before the epoch ends
            remaining = torch.arange(steps - 1, -1, -1, dtype=torch.float64, device=device).unsqueeze(1)
            tail, total = _geometric(self.f, remaining), _geometric(self.f, torch.tensor(float(steps)))
        self.tail = tail.to(dtype).view(steps, -1, 1, 1)
        self.total_scale = total.to(dtype).view(-1, 1, 1)
        self.t = 0  # steps taken since the last renormalization
        self.step = 0  # steps taken since the epoch's start
        self._eta_over_m: dict[int, torch.Tensor] = {}

    def eta_over(self, m_b: int) -> torch.Tensor:
        """eta / m_b as a (K, 1, 1) tensor, made once per batch size."""
        if m_b not in self._eta_over_m:
            self._eta_over_m[m_b] = (self.eta / m_b).view(-1, 1, 1)
        return self._eta_over_m[m_b]

    def make_room(self, weights: list[torch.Tensor], steps: int) -> None:
        """Renormalize first when the next `steps` steps would run past the segment."""
        if self.t + steps > self.segment:
            self.renormalize(weights)

    def renormalize(self, weights: list[torch.Tensor]) -> None:
        """Make the stored weights the network's own again (W = s_t V) and restart the scale at 1."""
        if self.t:
            for w in weights:
                w.mul_(self.scale[self.t])
        self.t = 0

    def fold(self, weights: list[torch.Tensor]) -> None:
        """The epoch's end: the network's own weights, and the next epoch's steps counted from 0."""
        self.renormalize(weights)
        self.step = 0


def segment_steps(f: torch.Tensor, steps: int) -> int:
    """The most steps (at most `steps`, at least 1) over which f^t stays >= MIN_SCALE for every member."""
    shrink = -torch.log(f.min()).item()
    return steps if shrink * steps <= -math.log(MIN_SCALE) else max(1, int(-math.log(MIN_SCALE) / shrink))


def _geometric(f: torch.Tensor, terms: torch.Tensor) -> torch.Tensor:
    """sum_{j < terms} f^j per member, accurate for f near 1 and where f^terms underflows."""
    c = 1 - f
    return torch.where(c > 0, -torch.expm1(terms * torch.log1p(-c)) / c.clamp_min(1e-300), terms * torch.ones_like(f))


def steps_per_gemm(width: int, m: int) -> int:
    """How many steps sgd_steps should take at once, for a first layer `width` units wide per group (K/g
    members' hidden units): its block Gram matrix costs B m / width of the steps' first-layer work, kept near
    1/16 (measured on one CPU core: K = 16 runs fastest at B = 1..4, K = 64 at B = 4..16)."""
    return max(1, min(32, width // (16 * m)))


def sgd_step(weights, biases, x, y, hyper: Hyper, stats: StepStats | None = None, gradient: bool = True):
    """One mini-batch step of every member; x (g, m_b, n_in), y (g, m_b, n_out) one-hot (see sgd_steps)."""
    sgd_steps(weights, biases, x, y, [0, x.shape[1]] if gradient else [0, 0], hyper, stats, gradient)


def sgd_steps(weights, biases, x, y, bounds: list[int], hyper: Hyper, stats: StepStats | None = None,
              gradient: bool = True):
    """Consecutive mini-batch steps of every member; step j reads rows bounds[j]:bounds[j+1] of x (g, rows,
    n_in) and y (g, rows, n_out) one-hot, g dividing K: the K/g members of a group share their mini-batches.

    Exactly the book's step after step, with the first layer's arithmetic regrouped: its stored V changes by a
    rank-m_b term per step, so within the block V_t a = V_0 a - sum_{u<t} (a . x_u) D_u with D_u = (eta g_u /
    s_{u+1}) per row; all steps' x V_0^T and x x^T are two GEMMs at the block's start, and V takes the block's
    updates as one GEMM at its end (instead of two m_b-row GEMMs that read all of V every step).
    The stored weights are V (see Hyper): the network's are W = s V until `hyper.fold`.
    gradient=False applies the decay part alone (a pure-decay control).
    """
    steps = len(bounds) - 1
    hyper.make_room(weights, steps)
    if not gradient:
        hyper.t += steps
        hyper.step += steps
        return
    w1, rest_w = weights[0], weights[1:]
    k, g, n_in = len(w1), len(x), x.shape[2]
    first = w1.view(g, -1, n_in)  # (g, K/g * h, n_in): a group's members side by side
    base = torch.bmm(x, first.transpose(1, 2))  # x V_0^T for every step of the block
    gram = torch.bmm(x, x.transpose(1, 2))
    updates = torch.empty_like(base)  # D_u, grouped
    tails = torch.empty_like(base) if stats is not None else None  # rows of R_u eta g_u (StepStats)
    for lo, hi in zip(bounds, bounds[1:]):
        s, inverse_next, tail = hyper.scale[hyper.t], hyper.inverse[hyper.t + 1], hyper.tail[hyper.step]
        hyper.t += 1
        hyper.step += 1
        z1 = base[:, lo:hi]
        if lo:
            z1 = torch.baddbmm(z1, gram[:, lo:hi, :lo], updates[:, :lo], alpha=-1)
        z1 = torch.addcmul(biases[0].unsqueeze(1), ungrouped(z1, k), s)
        zs, acts = forward(rest_w, biases[1:], torch.sigmoid(z1), s)
        zs, acts = [z1, *zs], [x[:, lo:hi], *acts]
        # Output error of the book's cost, pre-scaled by eta/m_b so that eta*g = d^T a for every layer.
        error = (acts[-1].view(g, k // g, *acts[-1].shape[1:]) - y[:, lo:hi].unsqueeze(1)).view(acts[-1].shape)
        deltas = [error.mul_(hyper.eta_over(hi - lo))]
        for w, a in zip(reversed(rest_w), reversed(acts[1:-1])):
            deltas.insert(0, torch.bmm(deltas[0], w).mul_(torch.addcmul(a, a, a, value=-1)).mul_(s))
        bias_steps = [d.sum(1) for d in deltas]
        first_delta = grouped_view(deltas[0], g)
        torch.mul(first_delta, grouped_view(inverse_next, g), out=grouped_view_of(updates[:, lo:hi], k))
        if stats is not None:
            stats.record(biases, acts, zs, deltas, bias_steps, gram[:, lo:hi, lo:hi])
            torch.mul(first_delta, grouped_view(tail, g), out=grouped_view_of(tails[:, lo:hi], k))
            for total, d, a_in in zip(stats.tail_sums[1:], deltas[1:], acts[1:]):
                total.baddbmm_((d * tail).transpose(1, 2), a_in)
        for w, d, a_in in zip(rest_w, deltas[1:], acts[1:]):
            w.baddbmm_((d * inverse_next).transpose(1, 2), a_in, alpha=-1)
        for b, db in zip(biases, bias_steps):
            b.sub_(db)
    first.baddbmm_(updates.transpose(1, 2), x, alpha=-1)
    if stats is not None:
        stats.tail_sums[0].view(g, -1, n_in).baddbmm_(tails.transpose(1, 2), x)
