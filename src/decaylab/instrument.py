"""What a run measures, per member: weight sizes, the decay/gradient split, probe saturation, costs.

Every function returns {(layer, metric): tensor of shape (K,)} and draws no
random numbers, so measuring never changes training. Layers are named W1, W2, ...
for the weight matrices and `net` for whole-network figures.
"""

import math

import torch

from decaylab.glossary import SUB_EPOCH, sub_epoch_name
from decaylab.network import Hyper, StepStats, cross_entropy, forward, output_logits

Metrics = dict[tuple[str, str], torch.Tensor]
SATURATION_Z = 4.0
QUANTILES = {"row_norm_min": 0.0, "row_norm_q25": 0.25, "row_norm_median": 0.5, "row_norm_q75": 0.75,
             "row_norm_max": 1.0}


def layer_name(i: int) -> str:
    return f"W{i + 1}"


def _rms(w: torch.Tensor) -> torch.Tensor:
    return w.square().mean(dim=tuple(range(1, w.dim()))).sqrt()


def weight_sizes(weights: list[torch.Tensor], dead: torch.Tensor) -> Metrics:
    """RMS, mean and max |w|, quantiles of per-neuron row norms; W1 split by dead (always-zero) pixels."""
    out: Metrics = {}
    for i, w in enumerate(weights):
        name = layer_name(i)
        out[name, "rms"] = _rms(w)
        out[name, "mean_abs"] = w.abs().mean((1, 2))
        out[name, "max_abs"] = w.abs().amax((1, 2))
        rows = torch.linalg.vector_norm(w, dim=2)
        for key, q in QUANTILES.items():
            out[name, key] = rows.quantile(q, dim=1)
    w1 = weights[0]
    out["W1", "rms_active"] = _rms(w1[:, :, ~dead])
    if dead.any():
        out["W1", "rms_dead"] = _rms(w1[:, :, dead])
    total = sum(w.square().sum((1, 2)) for w in weights)
    out["net", "rms"] = (total / sum(w[0].numel() for w in weights)).sqrt()
    return out


def step_split(stats: StepStats, end: list[torch.Tensor], hyper: Hyper) -> Metrics:
    """The epoch's decomposition of d|W|^2 and its decay / gradient displacements, per layer."""
    out: Metrics = {}
    norm_sq0 = [torch.linalg.vector_norm(w, dim=(1, 2), dtype=torch.float64).square() for w in stats.start]
    sums = stats.weight_sums(hyper.total_scale)
    for i, (w0, w1, w_sum, parts) in enumerate(zip(stats.start, end, sums, stats.parts(norm_sq0, hyper.f))):
        name = layer_name(i)
        norm1 = torch.linalg.vector_norm(w1, dim=(1, 2), dtype=torch.float64)
        disp_decay = (hyper.f - 1).view(-1, 1, 1) * w_sum
        out.update({(name, key): value for key, value in parts.items() if key != "S_end"})
        out[name, "dS"] = norm1.square() - norm_sq0[i]
        out[name, "disp_decay"] = torch.linalg.vector_norm(disp_decay, dim=(1, 2))
        out[name, "disp_grad"] = torch.linalg.vector_norm(w1 - w0 - disp_decay, dim=(1, 2))
        out[name, "shrink"] = norm1 / norm_sq0[i].sqrt()
    return out


def first_epoch_points(stats: StepStats, hyper: Hyper) -> Metrics:
    """The decay, drift and noise sums from the start of training to each SUB_EPOCH point of the first epoch, per
    layer: claim 1's first phase where the decay is over within an epoch (eta*lam/m large)."""
    norm_sq0 = [torch.linalg.vector_norm(w, dim=(1, 2), dtype=torch.float64).square() for w in stats.start]
    out: Metrics = {}
    for fraction in SUB_EPOCH:
        steps = max(1, round(fraction * stats.steps_done))
        for i, parts in enumerate(stats.parts(norm_sq0, hyper.f, steps)):
            out.update({(layer_name(i), sub_epoch_name(part, fraction)): parts[part]
                        for part in ("decay", "drift", "noise")})
    return out


def shrink_predictions(etas: list[float], lams: list[float], n: int, m: int) -> Metrics:
    """The two predicted per-epoch shrink factors, in float64 from the configured eta and lam (never from the
    run's rounded tensors): exp(-eta*lam/m) and the exact decay-only factor (1 - eta*lam/n)^ceil(n/m)."""
    eta, lam = torch.tensor(etas, dtype=torch.float64), torch.tensor(lams, dtype=torch.float64)
    return {("net", "pred_shrink_exp"): torch.exp(-eta * lam / m),
            ("net", "pred_shrink_exact"): torch.exp(math.ceil(n / m) * torch.log1p(-eta * lam / n))}


def shrink_controls(start_sizes: Metrics, end_sizes: Metrics) -> Metrics:
    """Realized per-epoch shrink of the W1 pixel groups (always-zero pixels apart)."""
    out: Metrics = {("W1", "shrink_active"): end_sizes["W1", "rms_active"] / start_sizes["W1", "rms_active"]}
    if ("W1", "rms_dead") in end_sizes:
        out["W1", "shrink_dead"] = end_sizes["W1", "rms_dead"] / start_sizes["W1", "rms_dead"]
    return out


def probe_saturation(weights, biases, x_probe: torch.Tensor) -> Metrics:
    """Hidden pre-activations z on a fixed probe batch: std, fraction with |z| > 4, mean sigma'(z)."""
    zs, acts = forward(weights, biases, x_probe)
    out: Metrics = {}
    for i, (z, a) in enumerate(zip(zs[:-1], acts[1:-1])):
        name = layer_name(i)
        out[name, "z_std"] = z.std(dim=(1, 2))
        out[name, "z_sat_frac"] = (z.abs() > SATURATION_Z).to(z.dtype).mean((1, 2))
        out[name, "sigma_prime_mean"] = (a * (1 - a)).mean((1, 2))
    return out


def cost_and_accuracy(weights, biases, lam: torch.Tensor, x: torch.Tensor, labels: torch.Tensor, split: str,
                      chunk: int = 10_000) -> Metrics:
    """Plain cost, the book's regularized cost (lam / (2 len(data)) sum |W|^2) and accuracy on one split."""
    cost = torch.zeros(weights[0].shape[0], dtype=weights[0].dtype, device=x.device)
    correct = torch.zeros_like(cost)
    n_out = weights[-1].shape[1]
    for lo in range(0, len(x), chunk):
        xb, yb = x[lo : lo + chunk], labels[lo : lo + chunk]
        z_out = output_logits(weights, biases, xb)
        onehot = torch.nn.functional.one_hot(yb, n_out).to(z_out.dtype)
        cost += cross_entropy(z_out, onehot) * len(xb)
        correct += (z_out.argmax(-1) == yb).to(cost.dtype).sum(-1)
    cost /= len(x)
    sq = sum(w.square().sum((1, 2)) for w in weights)
    return {
        ("net", f"cost_{split}"): cost,
        ("net", f"cost_l2_{split}"): cost + lam / (2 * len(x)) * sq,
        ("net", f"acc_{split}"): correct / len(x),
    }
