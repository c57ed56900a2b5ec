"""The update rule and its per-step decomposition, against hand computations in float64."""

import math

import pytest
import torch
from conftest import make_run

from decaylab import network
from decaylab.inits import init_network
from decaylab.network import INERT_BIAS, Hyper, StepStats, forward, output_logits, pad_hidden, sgd_step, unpad

torch.manual_seed(0)


def _ensemble(sizes, seeds, init="standard"):
    nets = [init_network(sizes, make_run(init, seed=s)) for s in seeds]
    weights = [torch.stack([w[i] for w, _ in nets]) for i in range(len(sizes) - 1)]
    biases = [torch.stack([b[i] for _, b in nets]) for i in range(len(sizes) - 1)]
    return weights, biases


def _batch(k, m, n_in, n_out, gen):
    x = torch.rand(k, m, n_in, generator=gen, dtype=torch.float64)
    y = torch.nn.functional.one_hot(torch.randint(0, n_out, (k, m), generator=gen), n_out).double()
    return x, y


def _book_step(w_list, b_list, x, y, eta, lam, n):
    """The book's rule with gradients from autograd on the book's cost, one member."""
    ws = [w.clone().requires_grad_() for w in w_list]
    bs = [b.clone().requires_grad_() for b in b_list]
    a = x
    for w, b in zip(ws, bs):
        a = torch.sigmoid(a @ w.T + b)
    cost_sum = -(y * torch.log(a) + (1 - y) * torch.log(1 - a)).sum()  # sum over x of C_x
    cost_sum.backward()
    m = x.shape[0]
    new_w = [(1 - eta * lam / n) * w.detach() - eta / m * w.grad for w in ws]
    new_b = [b.detach() - eta / m * b.grad for b in bs]
    return new_w, new_b


def test_one_step_matches_book_formula():
    sizes, n = [12, 7, 5, 4], 1000
    weights, biases = _ensemble(sizes, [1, 2, 3])
    eta = torch.tensor([0.5, 0.1, 2.0], dtype=torch.float64)
    lam = torch.tensor([5.0, 0.0, 50.0], dtype=torch.float64)
    x, y = _batch(3, 10, 12, 4, torch.Generator().manual_seed(9))
    expected = [_book_step([w[k] for w in weights], [b[k] for b in biases], x[k], y[k], float(eta[k]),
                           float(lam[k]), n) for k in range(3)]
    hyper = Hyper(eta, lam, n, steps=1)
    sgd_step(weights, biases, x, y, hyper)
    hyper.fold(weights)
    for k, (ew, eb) in enumerate(expected):
        for i in range(3):
            torch.testing.assert_close(weights[i][k], ew[i], rtol=0, atol=1e-12)
            torch.testing.assert_close(biases[i][k], eb[i], rtol=0, atol=1e-12)


def test_an_epoch_in_scaled_storage_equals_stepwise_folding():
    """Within an epoch the stored V carry W = f^t V; folding after every step gives the same network."""
    sizes, n, steps = [12, 7, 4], 500, 40
    x, y = _batch(2, 10 * steps, 12, 4, torch.Generator().manual_seed(3))
    results = []
    for fold_every_step in (True, False):
        w, b = _ensemble(sizes, [4, 5])
        hyper = Hyper([0.5, 2.0], [1.0, 30.0], n, steps)
        for t in range(steps):
            sgd_step(w, b, x[:, 10 * t : 10 * (t + 1)], y[:, 10 * t : 10 * (t + 1)], hyper)
            if fold_every_step:
                hyper.fold(w)
        hyper.fold(w)
        results.append(w + b)
    for a, c in zip(*results):
        torch.testing.assert_close(a, c, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("eta_lam_over_n", [1e-5, 1e-6, 1.7e-7, 1e-8])
def test_float32_decay_is_exact(eta_lam_over_n):
    """Weights without gradient follow (1 - eta*lam/n)^t (float64) in float32 too: to 0.2 % of the log-shrink."""
    n, steps, epochs = 50_000, 5000, 3
    eta = 0.1
    lam = eta_lam_over_n * n / eta
    weights, biases = _ensemble([6, 3, 2], [0])
    weights = [w.float() for w in weights]
    hyper = Hyper([eta], [lam], n, steps, torch.float32)
    start = weights[0].double().norm()
    x = torch.zeros(1, 10, 6)  # zero pixels: no gradient reaches W1
    y = torch.nn.functional.one_hot(torch.zeros(1, 10, dtype=torch.long), 2).float()
    for _ in range(epochs):
        for _ in range(steps):
            sgd_step(weights, [b.float() for b in biases], x, y, hyper)
        hyper.fold(weights)
    measured = math.log(weights[0].double().norm() / start)
    predicted = epochs * steps * math.log1p(-eta_lam_over_n)
    assert abs(measured / predicted - 1) < 2e-3


FLOAT32_NORMAL = float(torch.finfo(torch.float32).tiny)


@pytest.mark.parametrize("eta_lam_over_n", [1e-8, 1e-6, 1e-4, 0.05, 0.5, 0.99])
def test_float32_decay_is_exact_over_the_whole_range(eta_lam_over_n):
    """Weights without gradient follow (1 - eta*lam/n)^t (float64) in float32 within 0.2 % while that factor is a
    normal float32 number, whatever eta*lam/n; beyond it they are finite and, far beyond, exactly 0, never NaN."""
    n, m, epochs = 1200, 10, 6
    steps = n // m
    weights = [w.float() for w in _ensemble([6, 3, 2], [0])[0]]
    start = weights[0].double().clone()
    hyper = Hyper([0.5], [eta_lam_over_n * n / 0.5], n, steps, torch.float32)
    assert (hyper.segment < steps) == (eta_lam_over_n >= 0.5)  # 0.5^120 < MIN_SCALE: renormalized within epochs
    for epoch in range(1, epochs + 1):
        for _ in range(0, steps, 7):  # blocks of 7 steps as training takes them (the last one short)
            bounds = list(range(min(8, steps - hyper.step + 1)))
            network.sgd_steps(weights, None, None, None, bounds, hyper, gradient=False)
        hyper.fold(weights)
        factor = math.exp(epoch * steps * math.log1p(-eta_lam_over_n))
        w = weights[0].double()
        assert torch.isfinite(w).all()
        if factor >= FLOAT32_NORMAL:
            torch.testing.assert_close(w, start * factor, rtol=2e-3, atol=0)
        elif factor * start.abs().max() < 2.0 ** -150:  # below float32's smallest subnormal
            assert (w == 0).all()


def test_renormalizing_within_an_epoch_changes_no_network():
    """A run renormalized every few steps equals one renormalized once per epoch (float64), summed weights and
    step statistics included."""
    sizes, n, steps = [12, 7, 4], 500, 40
    x, y = _batch(2, 10 * steps, 12, 4, torch.Generator().manual_seed(3))
    results = []
    for segment in (steps, 3):
        w, b = _ensemble(sizes, [4, 5])
        hyper = Hyper([0.5, 2.0], [1.0, 30.0], n, steps)
        hyper.segment = segment
        stats = StepStats(w, steps)
        for lo in range(0, steps, 2):
            rows = slice(10 * lo, 10 * (lo + 2))
            network.sgd_steps(w, b, x[:, rows], y[:, rows], [0, 10, 20], hyper, stats)
        sums = stats.weight_sums(hyper.total_scale)
        hyper.fold(w)
        results.append([*w, *b, *sums, stats.rows])
    for a, c in zip(*results):
        torch.testing.assert_close(a, c, rtol=1e-10, atol=1e-12)


def test_decomposition_adds_up_every_step_and_over_an_epoch():
    sizes, n, steps = [20, 9, 6, 4], 300, 25
    weights, biases = _ensemble(sizes, [7, 8], init="scaled")
    hyper = Hyper([0.5, 2.0], [5.0, 0.3], n, steps=1)
    gen = torch.Generator().manual_seed(1)
    norm_sq = [w.square().sum((1, 2)) for w in weights]
    epoch = StepStats(weights, steps)
    expected = [dict.fromkeys(["decay", "drift", "noise", "steplen_decay", "steplen_grad"], 0.0) for _ in weights]
    so_far = {}  # the sums after the first t steps
    for t in range(1, steps + 1):
        single = StepStats(weights, 1)
        before = [w.clone() for w in weights]
        x, y = _batch(2, 10, 20, 4, gen)
        sgd_step(weights, biases, x, y, hyper, single)
        hyper.fold(weights)
        epoch.rows[epoch.steps_done] = single.rows[0]  # the same step, recorded into the epoch
        epoch.steps_done += 1
        for i, (w0, w1, parts) in enumerate(zip(before, weights, single.parts([w.square().sum((1, 2)) for w in before],
                                                                               hyper.f))):
            actual = w1.square().sum((1, 2)) - w0.square().sum((1, 2))
            torch.testing.assert_close(parts["decay"] + parts["drift"] + parts["noise"], actual, rtol=1e-10,
                                       atol=1e-12)
            torch.testing.assert_close(parts["S_end"], w1.square().sum((1, 2)), rtol=1e-12, atol=0)
            # per-step displacement norms: |(1 - f) W| and |W' - f W|
            torch.testing.assert_close(parts["steplen_decay"],
                                       (1 - hyper.f) * torch.linalg.vector_norm(w0, dim=(1, 2)))
            grad_step = w1 - hyper.f.view(-1, 1, 1) * w0
            torch.testing.assert_close(parts["steplen_grad"], torch.linalg.vector_norm(grad_step, dim=(1, 2)))
            assert (parts["noise"] > 0).all() and (parts["decay"] < 0).all()
            for key in expected[i]:
                expected[i][key] = expected[i][key] + parts[key]
        so_far[t] = [dict(e) for e in expected]
    # The epoch's record rebuilds S_t by recursion from S_0 alone and gets the same sums.
    for i, parts in enumerate(epoch.parts(norm_sq, hyper.f)):
        torch.testing.assert_close(parts["S_end"], weights[i].square().sum((1, 2)), rtol=1e-12, atol=0)
        for key, value in expected[i].items():
            torch.testing.assert_close(parts[key], value, rtol=1e-11, atol=1e-14)
    # Its first t steps alone (claim 1's points inside an epoch) give the sums after step t.
    for t in (1, 6, 13):
        for parts, want in zip(epoch.parts(norm_sq, hyper.f, steps=t), so_far[t]):
            for key in ("decay", "drift", "noise"):
                torch.testing.assert_close(parts[key], want[key], rtol=1e-11, atol=1e-14)
    from decaylab.glossary import SUB_EPOCH, sub_epoch_name
    from decaylab.instrument import first_epoch_points

    points = first_epoch_points(epoch, hyper)
    assert len(points) == 3 * len(SUB_EPOCH) * len(weights)
    for fraction in SUB_EPOCH:
        t = max(1, round(fraction * steps))
        for i, want in enumerate(so_far[t]):
            torch.testing.assert_close(points[f"W{i + 1}", sub_epoch_name("decay", fraction)], want["decay"],
                                       rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_blocks_of_steps_equal_single_steps_and_sum_the_weights(groups):
    """sgd_steps regroups the first layer's arithmetic over a block (members of a group share their rows):
    the same network as one sgd_step at a time, and StepStats' sum_t W_t equals the weights summed by hand."""
    sizes, n, m, steps = [20, 9, 6, 4], 300, 5, 12
    etas, lams = [0.5, 2.0, 0.1, 1.0], [5.0, 0.3, 0.0, 40.0]
    x, y = _batch(groups, m * steps - 2, 20, 4, torch.Generator().manual_seed(6))  # the last step is short
    bounds = [min(t * m, x.shape[1]) for t in range(steps + 1)]
    results = []
    for at_once in (1, 5):
        weights, biases = _ensemble(sizes, [1, 2, 3, 4])
        hyper, stats, summed = Hyper(etas, lams, n, steps), StepStats(weights, steps), None
        for lo in range(0, steps, at_once):
            hi = min(lo + at_once, steps)
            if at_once == 1:
                s = hyper.scale[hyper.t]
                summed = [s * w + (0 if summed is None else t) for w, t in zip(weights, summed or weights)]
            block = slice(bounds[lo], bounds[hi])
            network.sgd_steps(weights, biases, x[:, block], y[:, block], [b - bounds[lo] for b in bounds[lo : hi + 1]],
                      hyper, stats)
        results.append((weights, biases, stats))
        if at_once == 1:
            for got, expected in zip(stats.weight_sums(hyper.total_scale), summed):
                torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    (w1, b1, s1), (w5, b5, s5) = results
    for a, c in zip(w1 + b1 + s1.weight_sums(torch.ones(1)) + [s1.rows], w5 + b5 + s5.weight_sums(torch.ones(1))
                    + [s5.rows]):
        torch.testing.assert_close(a, c, rtol=1e-11, atol=1e-12)


def test_step_norm_routes_agree():
    """|d^T a|^2 by Gram matrices (wide layers) and by the product itself (narrow ones) is exact either way."""
    from decaylab.network import _step_sq

    gen = torch.Generator().manual_seed(2)
    for m, n_out, n_in in ((10, 30, 784), (10, 10, 30), (3, 2, 2)):
        d = torch.randn(4, m, n_out, generator=gen, dtype=torch.float64)
        a = torch.rand(4, m, n_in, generator=gen, dtype=torch.float64)
        expected = torch.bmm(d.transpose(1, 2), a).square().sum((1, 2))
        torch.testing.assert_close(_step_sq(d, a), expected, rtol=1e-12, atol=0)


def test_padded_units_are_inert():
    """Training padded storage gives the unpadded network's numbers; padding stays zero weights, bias -1e4."""
    sizes, n = [12, 7, 5, 4], 400
    plain_w, plain_b = _ensemble(sizes, [1, 2])
    padded_w, padded_b = pad_hidden([w.clone() for w in plain_w], [b.clone() for b in plain_b])
    assert [w.shape[1:] for w in padded_w] == [(16, 12), (16, 16), (4, 16)]
    hyper, padded_hyper = Hyper([0.5, 3.0], [5.0, 1.0], n, 50), Hyper([0.5, 3.0], [5.0, 1.0], n, 50)
    gen = torch.Generator().manual_seed(4)
    plain_stats, padded_stats = StepStats(plain_w, 50), StepStats(padded_w, 50)
    norm_sq = [w.square().sum((1, 2)) for w in plain_w]
    for _ in range(50):
        x, y = _batch(2, 10, 12, 4, gen)
        sgd_step(plain_w, plain_b, x, y, hyper, plain_stats)
        sgd_step(padded_w, padded_b, x, y, padded_hyper, padded_stats)
    hyper.fold(plain_w)
    padded_hyper.fold(padded_w)
    real_w, real_b = unpad(padded_w, padded_b, sizes)
    for a, c in zip(plain_w + plain_b, real_w + real_b):
        torch.testing.assert_close(a, c, rtol=0, atol=1e-12)
    for w, b, real in zip(padded_w[:-1], padded_b[:-1], real_b):
        assert (w[:, real.shape[1]:] == 0).all() and (b[:, real.shape[1]:] == INERT_BIAS).all()
    assert all((w[:, :, s:] == 0).all() for w, s in zip(padded_w[1:], sizes[1:-1]))
    for p, q in zip(plain_stats.parts(norm_sq, hyper.f), padded_stats.parts(norm_sq, hyper.f)):
        for key in p:
            torch.testing.assert_close(p[key], q[key], rtol=1e-10, atol=1e-12)



def test_decay_only_step_is_pure_shrink():
    weights, biases = _ensemble([5, 3, 2], [0])
    before = [w.clone() for w in weights]
    hyper = Hyper([0.5], [5.0], 100, steps=1)
    sgd_step(weights, biases, None, None, hyper, gradient=False)
    hyper.fold(weights)
    for w0, w1 in zip(before, weights):
        torch.testing.assert_close(w1, w0 * (1 - 0.5 * 5.0 / 100), rtol=0, atol=0)


def test_init_statistics():
    w_std, _ = init_network([1000, 800], make_run("standard"))
    w_sc, b_sc = init_network([1000, 800], make_run("scaled"))
    assert abs(w_std[0].std().item() - 1.0) < 0.01
    assert abs(w_sc[0].std().item() - 1 / math.sqrt(1000)) < 0.01 / math.sqrt(1000)
    assert abs(b_sc[0].std().item() - 1.0) < 0.15  # biases N(0, 1) in both schemes
    assert abs(w_std[0].mean().item()) < 0.01
    again, _ = init_network([1000, 800], make_run("standard"))
    torch.testing.assert_close(w_sc[0], w_std[0] / math.sqrt(1000), rtol=0, atol=0)  # the same draws, scaled
    assert torch.equal(again[0], w_std[0])


def test_forward_shared_input_broadcasts_over_members():
    weights, biases = _ensemble([6, 4, 3], [0, 1])
    x = torch.rand(5, 6, dtype=torch.float64)
    zs, acts = forward(weights, biases, x)
    for k in range(2):
        expected = torch.sigmoid(torch.sigmoid(x @ weights[0][k].T + biases[0][k]) @ weights[1][k].T + biases[1][k])
        torch.testing.assert_close(acts[-1][k], expected)
    # the evaluation path: output logits alone, shared or per-member input, padded or not
    torch.testing.assert_close(output_logits(weights, biases, x), zs[-1], rtol=0, atol=1e-14)
    per_member = x.expand(2, 5, 6)
    torch.testing.assert_close(output_logits(weights, biases, per_member), zs[-1], rtol=0, atol=1e-14)
    padded = pad_hidden(weights, biases)
    torch.testing.assert_close(output_logits(*padded, x), zs[-1], rtol=0, atol=1e-14)


@pytest.mark.parametrize("scheme,variance", [("standard", lambda n_in, n_out: 1.0),
                                             ("scaled", lambda n_in, n_out: 1 / n_in),
                                             ("glorot", lambda n_in, n_out: 2 / (n_in + n_out)),
                                             ("he", lambda n_in, n_out: 2 / n_in)])
def test_each_scheme_scales_the_same_normal_draws_to_its_variance(scheme, variance):
    """A seed draws the same N(0, 1) numbers in every scheme; each scheme only sets their variance."""
    sizes = [1000, 800, 10]
    (w, b), (w0, b0) = init_network(sizes, make_run(scheme)), init_network(sizes, make_run("standard"))
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        sd = math.sqrt(variance(n_in, n_out))
        torch.testing.assert_close(w[i], w0[i] * sd, rtol=1e-15, atol=0)
        assert abs(w[i].std().item() / sd - 1) < 0.03
        assert torch.equal(b[i], b0[i])


def test_zero_bias_init_keeps_the_seeds_weights():
    (w, b), (w0, b0) = (init_network([20, 8, 3], make_run(bias_init=kind)) for kind in ("zero", "normal"))
    assert all(torch.equal(x, y) for x, y in zip(w, w0))
    assert all((x == 0).all() for x in b) and all(x.abs().min() > 0 for x in b0)
