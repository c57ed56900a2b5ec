"""What each logged metric means (MLflow's experiment description), and when a run counts as diverged or
collapsed. A test checks that every metric a run logs is described here."""

import math

NAMING = ("Metrics are logged as `<layer>/<metric>` once per epoch (the epoch is MLflow's step; epoch 0 is the "
          "initial network). Layers: W1, W2, ... are the weight matrices (biases are never decayed nor counted), "
          "`net` is the whole network.")
SPLITS = ("train", "validation", "test")

SUB_EPOCH = (1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2)  # points inside the first epoch (fractions of its steps)


def sub_epoch_name(part: str, fraction: float) -> str:
    """The metric holding a term's sum over the first `fraction` of epoch 1's steps, e.g. decay_to_0.25."""
    return f"{part}_to_{fraction:g}"


METRICS = {
    "rms": "root mean square of the layer's weights (net: over all weights)",
    "mean_abs": "mean of abs(w) over the layer",
    "max_abs": "largest abs(w) of the layer",
    **{f"row_norm_{q}": f"{q} of the per-neuron weight-row norms ‖w_j‖"
       for q in ("min", "q25", "median", "q75", "max")},
    "rms_active": "W1 RMS over the pixels that are non-zero in some training image",
    "rms_dead": "W1 RMS over the always-zero pixels (no gradient reaches them: pure decay)",
    "shrink": "‖W‖ at the epoch's end over ‖W‖ at its start",
    "shrink_active": "rms_active at the epoch's end over its start",
    "shrink_dead": "rms_dead at the epoch's end over its start: equals pred_shrink_exact",
    "pred_shrink_exp": "predicted per-epoch shrink exp(-eta*lam/m) (claim 2), float64 from the config",
    "pred_shrink_exact": "exact decay-only shrink (1 - eta*lam/n)^ceil(n/m), float64 from the config",
    "dS": "change of ‖W‖² over the epoch; dS = decay + drift + noise exactly",
    "decay": "the decay term's sum over the epoch's steps: (f² − 1)‖W‖², f = 1 - eta*lam/n",
    "drift": "the gradient's first-order term: −2 f η ⟨W, g⟩, summed over the steps",
    "noise": "the gradient's second-order term: η²‖g‖², summed over the steps",
    **{sub_epoch_name(part, fraction): f"epoch 1 only: the {part} term summed over its first {fraction:g} of "
                                       "the steps (claim 1's first phase inside an epoch)"
       for part in ("decay", "drift", "noise") for fraction in SUB_EPOCH},
    "disp_decay": "length of the epoch's summed decay displacements ‖Σ (f − 1) W_t‖",
    "disp_grad": "length of the epoch's summed gradient displacements ‖Σ η g_t‖",
    "steplen_decay": "sum of the per-step decay displacement lengths ‖(1 − f) W_t‖",
    "steplen_grad": "sum of the per-step gradient displacement lengths ‖η g_t‖",
    "z_std": "std of the layer's pre-activations z on a fixed probe batch of training images",
    "z_sat_frac": "fraction of those pre-activations with abs(z) > 4 (saturated sigmoid)",
    "sigma_prime_mean": "mean sigma'(z) on the probe batch (1/4 at most; small: learning slows)",
    **{f"cost_{s}": f"the book's cross-entropy cost on the {s} split (summed over outputs, mean over examples)"
       for s in SPLITS},
    **{f"cost_l2_{s}": f"cost_{s} + lam/(2 len(data)) Σ‖W‖², as the book plots it" for s in SPLITS},
    **{f"acc_{s}": f"classification accuracy on the {s} split" for s in SPLITS},
}


EXPLODED_RMS = 100.0  # inputs lie in [0, 1] and activations in (0, 1): weights this large saturate every unit
DIVERGENCE_RULE = (
    f"A run is flagged diverged from the first epoch at which a cost (any split) is not finite or a weight "
    f"layer's RMS is not finite or above {EXPLODED_RMS:g}. Metrics undefined by construction (a shrink ratio of "
    "weights that underflowed to 0) never flag a run.")


def diverges(metrics: dict[tuple[str, str], float]) -> bool:
    """DIVERGENCE_RULE on one epoch's metrics of one run."""
    for (layer, metric), value in metrics.items():
        if metric.startswith("cost_") and not math.isfinite(value):
            return True
        if metric == "rms" and layer != "net" and not value <= EXPLODED_RMS:
            return True  # also catches NaN and inf
    return False


CHANCE_FACTOR = 1.5
COLLAPSE_RULE = (
    f"A run that did not diverge is flagged collapsed when it learned nothing: its final validation accuracy is at "
    f"most {CHANCE_FACTOR:g}x chance (1/classes), or its training cost at the end is not below its initial one.")


def collapses(first: dict[str, float], last: dict[str, float], classes: int) -> bool:
    """COLLAPSE_RULE on a run's first and last epoch (`net/<metric>` keys)."""
    return last["net/acc_validation"] <= CHANCE_FACTOR / classes or last["net/cost_train"] >= first["net/cost_train"]


def experiment_note() -> str:
    """Markdown for MLflow's experiment description: how runs are organized and what each metric means."""
    rows = "\n".join(f"| `{name}` | {meaning} |" for name, meaning in METRICS.items())
    return (
        "**decaylab**: how L2 weight decay interacts with weight initialization (Nielsen, ch. 3).\n\n"
        "Each study is a parent run (description: the verdicts; artifacts: report, claims, figures); each grid "
        "point (init, lam, eta, hidden, seed) is a child run named by what tells it apart first: the arm unless it "
        "is `main`, then `λ=… η=… <init> s=<seed> h=…`. Group the "
        "charts by the tag `decaylab.cell` for mean and band over seeds.\n\n"
        + NAMING + "\n\n| metric | meaning |\n|---|---|\n" + rows + "\n"
    )
