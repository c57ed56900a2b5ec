"""The rules with several conditions, one condition at a time and at its boundary: divergence, collapse, and claim
1's first phase (whole epochs or points inside epoch 1)."""

import math

import pandas as pd
import pytest

from decaylab.claims.dominance import window_fraction
from decaylab.glossary import CHANCE_FACTOR, EXPLODED_RMS, collapses, diverges

HEALTHY = {("net", "cost_train"): 0.3, ("net", "cost_validation"): 0.4, ("W1", "rms"): 0.5, ("W2", "rms"): 0.2,
           ("net", "rms"): 0.4}


@pytest.mark.parametrize("key,value,flagged", [
    (("net", "cost_train"), math.inf, True), (("net", "cost_validation"), math.nan, True),
    (("net", "cost_train"), 1e30, False),  # large but finite: not divergence
    (("W1", "rms"), EXPLODED_RMS, False), (("W1", "rms"), math.nextafter(EXPLODED_RMS, math.inf), True),
    (("W2", "rms"), math.nan, True), (("W2", "rms"), math.inf, True),
    (("net", "rms"), 1e6, False),  # the whole network's RMS is not a layer's
    (("W1", "rms_active"), 1e6, False), (("W1", "shrink"), math.nan, False),  # undefined by construction
])
def test_divergence_one_condition_at_a_time(key, value, flagged):
    assert not diverges(HEALTHY)
    assert diverges({**HEALTHY, key: value}) is flagged


@pytest.mark.parametrize("accuracy,cost_end,flagged", [
    (CHANCE_FACTOR / 10, 0.1, True),  # at the chance bound: collapsed
    (math.nextafter(CHANCE_FACTOR / 10, 1), 0.1, False),
    (0.9, 2.3, True),  # the training cost did not fall
    (0.9, math.nextafter(2.3, 0), False),
])
def test_collapse_one_condition_at_a_time(accuracy, cost_end, flagged):
    first, last = {"net/cost_train": 2.3}, {"net/acc_validation": accuracy, "net/cost_train": cost_end}
    assert collapses(first, last, classes=10) is flagged


@pytest.mark.parametrize("eta_lam_over_m,window", [
    (0.5, 2.0), (1.0, 1.0),  # whole epochs while eta*lam/m <= 1
    (math.nextafter(1.0, 2), 0.5), (2.0, 0.5), (2.0000001, 0.25), (64.0, 1 / 64), (64.1, None),
])
def test_the_first_phase_ends_at_whole_epochs_or_at_the_last_point_inside_epoch_one(eta_lam_over_m, window):
    d = pd.DataFrame({"eta": [0.5], "lam": [eta_lam_over_m * 10 / 0.5], "m": [10]})
    got = window_fraction(d).iloc[0]
    assert (math.isnan(got) if window is None else got == pytest.approx(window, rel=1e-12)), got
