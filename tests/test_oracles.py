"""Oracles: every number a claim rests on, checked against something computed apart from the code under test.

The data order against the definition of a reshuffle, the evaluation against plain NumPy on the source splits,
the predictions against the formulas in float64, the dead-pixel mask against the training split alone, and whole
training runs against a NumPy rendition of the book's loop (network2.SGD / update_mini_batch).
"""

import math

import numpy as np
import pytest
from conftest import Collect, make_job, make_run

from decaylab.data import Splits
from decaylab.glossary import SUB_EPOCH, sub_epoch_name
from decaylab.inits import init_network
from decaylab.module import EnsembleModule
from decaylab.train import fit_ensemble

MEMBERS = [make_run("standard", 5.0, 0.5, 0, "a"), make_run("scaled", 1.0, 2.0, 1, "b")]


def _fit_recording_order(job, splits, monkeypatch):
    """Fit the job; return the module, its metrics per epoch and each member's training order per epoch."""
    orders = []
    original = EnsembleModule.on_train_epoch_start

    def spy(module):
        original(module)
        k, streams = len(module.job.runs), len(module.order)
        orders.append([module.order[j * streams // k].cpu().numpy() for j in range(k)])  # a member reads its stream

    monkeypatch.setattr(EnsembleModule, "on_train_epoch_start", spy)
    rec = Collect()
    module = fit_ensemble(job, splits, rec)
    return module, rec.epochs, orders


def test_each_epoch_visits_every_example_once_in_a_new_order(tmp_path, synthetic, monkeypatch):
    job = make_job(tmp_path, MEMBERS, m=7, epochs=3)
    _, _, orders = _fit_recording_order(job, synthetic, monkeypatch)
    assert len(orders) == 3
    for epoch in orders:
        for order in epoch:
            np.testing.assert_array_equal(np.sort(order), np.arange(600))  # a permutation of the training set
    for k in range(len(MEMBERS)):
        for before, after in zip(orders, orders[1:]):
            assert (before[k] != after[k]).mean() > 0.9  # reshuffled between epochs
    assert (orders[0][0] != orders[0][1]).mean() > 0.9  # seeds 0 and 1 read the data in different orders


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _numpy_eval(weights, biases, x, y, lam):
    """Plain NumPy: the book's cross-entropy cost, its regularized cost and accuracy of one network."""
    a = x.astype(np.float64)
    for w, b in zip(weights, biases):
        a = _sigmoid(a @ w.T + b)
    onehot = np.eye(weights[-1].shape[0])[y]
    cost = -(onehot * np.log(a) + (1 - onehot) * np.log(1 - a)).sum(1).mean()
    l2 = lam / (2 * len(x)) * sum((w**2).sum() for w in weights)
    return cost, cost + l2, (a.argmax(1) == y).mean()


def test_recorded_cost_and_accuracy_match_numpy_on_each_split(tmp_path, synthetic):
    rec = Collect()
    module = fit_ensemble(make_job(tmp_path, MEMBERS, epochs=2), synthetic, rec)
    weights = [w.numpy() for w in module.weights]
    biases = [b.numpy() for b in module.biases]
    splits = {"train": (synthetic.train_x, synthetic.train_y), "validation": (synthetic.val_x, synthetic.val_y),
              "test": (synthetic.test_x, synthetic.test_y)}
    final = rec.epochs[2]
    for k, mb in enumerate(MEMBERS):
        for split, (x, y) in splits.items():
            cost, cost_l2, acc = _numpy_eval([w[k] for w in weights], [b[k] for b in biases], x, y, mb.lam)
            assert final["net", f"cost_{split}"][k] == pytest.approx(cost, rel=1e-12), split
            assert final["net", f"cost_l2_{split}"][k] == pytest.approx(cost_l2, rel=1e-12), split
            assert final["net", f"acc_{split}"][k] == acc, split
    # the splits do differ, so a swap of two of them cannot pass unnoticed
    accs = {split: final["net", f"acc_{split}"][0] for split in splits}
    assert len({round(v, 6) for v in accs.values()}) == 3, accs


def test_epoch_0_is_evaluated_on_the_initial_networks(tmp_path, synthetic):
    rec = Collect()
    fit_ensemble(make_job(tmp_path, MEMBERS, epochs=1), synthetic, rec)
    for k, mb in enumerate(MEMBERS):
        w, b = init_network([64, 16, 10], mb)
        cost, _, acc = _numpy_eval([x.numpy() for x in w], [x.numpy() for x in b], synthetic.test_x, synthetic.test_y,
                                   mb.lam)
        assert rec.epochs[0]["net", "cost_test"][k] == pytest.approx(cost, rel=1e-12)
        assert rec.epochs[0]["net", "acc_test"][k] == acc
        assert rec.epochs[0]["W1", "rms"][k] == pytest.approx(np.sqrt((w[0].numpy() ** 2).mean()), rel=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_logged_predictions_are_the_formulas_in_float64(tmp_path, synthetic, dtype):
    """pred_shrink_* from the config alone: exp(-eta lam / m) and (1 - eta lam / n)^ceil(n / m), n = 600, m = 7."""
    members = [*MEMBERS, make_run("standard", 0.001, 0.1, 2, "c")]  # eta*lam/n = 1.7e-7: float32 cannot hold f
    rec = Collect()
    fit_ensemble(make_job(tmp_path, members, m=7, epochs=1, dtype=dtype), synthetic, rec)
    for k, mb in enumerate(members):
        exact = math.exp(math.ceil(600 / 7) * math.log1p(-mb.eta * mb.lam / 600))
        assert rec.epochs[1]["net", "pred_shrink_exp"][k] == pytest.approx(math.exp(-mb.eta * mb.lam / 7), rel=1e-15)
        assert rec.epochs[1]["net", "pred_shrink_exact"][k] == pytest.approx(exact, rel=1e-14)


def test_dead_pixel_mask_comes_from_the_training_split(tmp_path, synthetic):
    """Pixels 0-7 are zero in the training split only; 8-11 are zero in validation and test only."""
    val_x, test_x = synthetic.val_x.copy(), synthetic.test_x.copy()
    val_x[:, :8], test_x[:, :8] = 0.5, 0.5
    val_x[:, 8:12], test_x[:, 8:12] = 0.0, 0.0
    splits = Splits(synthetic.train_x, synthetic.train_y, val_x, synthetic.val_y, test_x, synthetic.test_y)
    rec = Collect()
    module = fit_ensemble(make_job(tmp_path, MEMBERS, m=7, epochs=2), splits, rec)
    w1 = module.weights[0].numpy()
    for k, mb in enumerate(MEMBERS):
        dead_rms = np.sqrt((w1[k][:, :8] ** 2).mean())
        active_rms = np.sqrt((w1[k][:, 8:] ** 2).mean())
        assert rec.epochs[2]["W1", "rms_dead"][k] == pytest.approx(dead_rms, rel=1e-12)
        assert rec.epochs[2]["W1", "rms_active"][k] == pytest.approx(active_rms, rel=1e-12)
        predicted = (1 - mb.eta * mb.lam / 600) ** math.ceil(600 / 7)
        assert rec.epochs[2]["W1", "shrink_dead"][k] == pytest.approx(predicted, rel=1e-12)


def book_sgd(weights, biases, x, y, orders, eta, lam, m, n_out=10):
    """The book's network2 loop in NumPy, one network: per epoch the given order, mini-batches of m (the last
    one short), w <- (1 - eta lam / n) w - (eta / len(batch)) sum dC/dw, b <- b - (eta / len(batch)) sum dC/db,
    backprop of the cross-entropy cost (output delta a - y).

    Returns, per epoch, the weights and biases at its end and per layer the sums over its steps that the
    decomposition of d|W|^2 rests on: sum W_t, sum |W_t|^2, sum <W_t, eta g_t>, sum |eta g_t|^2, sum |eta g_t|,
    and the first three after each step (`after`).
    """
    w, b = [a.copy() for a in weights], [a.copy() for a in biases]
    n, history = len(x), []
    f = 1 - eta * lam / n
    targets = np.eye(n_out)[y]
    for order in orders:
        sums = [dict(w=np.zeros_like(wl), sq=0.0, dot=0.0, step_sq=0.0, step_len=0.0, w_len=0.0, after=[])
                for wl in w]
        for lo in range(0, n, m):
            batch = order[lo : lo + m]
            acts = [x[batch].astype(np.float64)]
            for wl, bl in zip(w, b):
                acts.append(_sigmoid(acts[-1] @ wl.T + bl))
            delta = acts[-1] - targets[batch]
            grads_w, grads_b = [None] * len(w), [None] * len(w)
            for layer in range(len(w) - 1, -1, -1):
                grads_w[layer] = delta.T @ acts[layer]
                grads_b[layer] = delta.sum(0)
                if layer:
                    a = acts[layer]
                    delta = (delta @ w[layer]) * a * (1 - a)
            for layer, s in enumerate(sums):
                step = eta / len(batch) * grads_w[layer]
                s["w"] += w[layer]
                s["sq"] += (w[layer] ** 2).sum()
                s["w_len"] += np.sqrt((w[layer] ** 2).sum())
                s["dot"] += (w[layer] * step).sum()
                s["step_sq"] += (step**2).sum()
                s["step_len"] += np.sqrt((step**2).sum())
                s["after"].append((s["sq"], s["dot"], s["step_sq"]))  # the sums after each step
                w[layer] = f * w[layer] - step
                b[layer] = b[layer] - eta / len(batch) * grads_b[layer]
        history.append(([a.copy() for a in w], [a.copy() for a in b], sums))
    return history


def test_whole_runs_match_the_books_loop_over_several_epochs(tmp_path, synthetic, monkeypatch):
    """Two 64-16-12-10 networks, 3 epochs of 86 mini-batches (the last short): weights, biases and every
    per-epoch measure of the decay/gradient split, and epoch 1's at the points inside it, agree with the NumPy loop
    to 1e-9 in float64."""
    members = [make_run("standard", 5.0, 0.5, 0, "a"), make_run("scaled", 1.0, 0.1, 1, "b")]
    job = make_job(tmp_path, members, hidden=(16, 12), m=7, epochs=3)
    module, epochs, orders = _fit_recording_order(job, synthetic, monkeypatch)
    for k, mb in enumerate(members):
        f = 1 - mb.eta * mb.lam / 600
        w0, b0 = init_network([64, 16, 12, 10], mb)
        start = [a.numpy() for a in w0]
        history = book_sgd(start, [a.numpy() for a in b0], synthetic.train_x, synthetic.train_y,
                           [epoch[k] for epoch in orders], mb.eta, mb.lam, 7)
        for e, (w, _, sums) in enumerate(history, start=1):
            for layer, (w_end, s) in enumerate(zip(w, sums)):
                w_start = start[layer] if e == 1 else history[e - 2][0][layer]
                sq0, sq1 = (w_start**2).sum(), (w_end**2).sum()
                disp_decay = (f - 1) * s["w"]
                expected = {
                    "rms": np.sqrt((w_end**2).mean()), "shrink": np.sqrt(sq1 / sq0), "dS": sq1 - sq0,
                    "decay": (f * f - 1) * s["sq"], "drift": -2 * f * s["dot"], "noise": s["step_sq"],
                    "disp_decay": np.sqrt((disp_decay**2).sum()),
                    "disp_grad": np.sqrt(((w_end - w_start - disp_decay) ** 2).sum()),
                    "steplen_decay": (1 - f) * s["w_len"], "steplen_grad": s["step_len"]}
                if e == 1:  # claim 1's points inside the first epoch: the sums over its first steps
                    for fraction in SUB_EPOCH:
                        sq, dot, step_sq = s["after"][max(1, round(fraction * len(s["after"]))) - 1]
                        expected |= {sub_epoch_name("decay", fraction): (f * f - 1) * sq,
                                     sub_epoch_name("drift", fraction): -2 * f * dot,
                                     sub_epoch_name("noise", fraction): step_sq}
                for metric, value in expected.items():
                    assert epochs[e][f"W{layer + 1}", metric][k] == pytest.approx(value, rel=1e-9), (e, layer, metric)
        w_end, b_end, _ = history[-1]
        for ours, book in zip(module.weights + module.biases, w_end + b_end):
            np.testing.assert_allclose(ours[k].numpy(), book, rtol=0, atol=1e-9)


def test_a_run_logs_exactly_the_described_metrics(tmp_path, synthetic):
    from decaylab.glossary import METRICS

    rec = Collect()
    fit_ensemble(make_job(tmp_path, MEMBERS, epochs=1), synthetic, rec)
    assert {metric for _, metric in rec.epochs[1]} == set(METRICS)
    assert {metric for _, metric in rec.epochs[0]} < set(METRICS)
