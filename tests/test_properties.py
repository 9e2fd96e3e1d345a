"""Hypothesis properties of every registered twin's gradients.

Over random architectures (1-4 weight layers, widths 1-32), batch sizes 1-16,
every activation, every initialisation and inputs from 1e-3 to 100 in size,
in float64:

* every twin == autodiff (the independent oracle), and each twin == central
  finite differences;
* softmax cross-entropy: dL/dlogits rows sum to 0; L is unchanged by adding
  a constant to a row of logits;
* the batch gradient is the mean of the per-example gradients, and does not
  depend on the order of the batch;
* manual.backward is linear in its upstream gradient; each layer's backward
  is the adjoint (transpose) of that layer's linearisation;
* manual.backward run twice gives bit-identical results.

Every tolerance is derived in a comment from the rounding (or truncation)
error the computation can make, never picked to make a test pass.

A failing example prints a line ``replay: Case(...)``; every array in the
test is a function of that Case, so

    import sys; sys.path.insert(0, "tests")
    from test_properties import Case, make_problem
    params, X, y = make_problem(Case(...))

rebuilds it (``print_blob`` also prints ``@reproduce_failure``).
"""

import copy
from dataclasses import dataclass

import numpy as np
from hypothesis import given, note, settings
from hypothesis import strategies as st

import autodiff
import manual
from compare.common.init import INITS, init_params
from compare.twins import TWINS
from manual.layers import activation_backward, affine_backward

EPS = np.finfo(np.float64).eps
ACTIVATIONS = tuple(sorted(manual.ACTIVATIONS))
KINKED = tuple(name for name in ACTIVATIONS if manual.ACTIVATIONS[name].kink is not None)
SCALES = (1e-3, 1e-1, 1.0, 10.0, 100.0)


@dataclass(frozen=True)
class Case:
    """Everything one example depends on; its repr is the replay line."""

    sizes: tuple
    batch: int
    activation: str
    init: str
    scale: float
    seed: int


@st.composite
def cases(draw):
    n_weight_layers = draw(st.integers(1, 4))
    widths = draw(st.lists(st.integers(1, 32), min_size=n_weight_layers,
                           max_size=n_weight_layers))
    n_classes = draw(st.integers(2, 32))
    case = Case(sizes=tuple(widths) + (n_classes,), batch=draw(st.integers(1, 16)),
                activation=draw(st.sampled_from(ACTIVATIONS)),
                init=draw(st.sampled_from(INITS)), scale=draw(st.sampled_from(SCALES)),
                seed=draw(st.integers(0, 2**32 - 1)))
    note(f"replay: {case!r}")
    return case


def make_problem(case):
    """params (list of (W, b)), X (batch, sizes[0]), y (batch,) for ``case``."""
    params = init_params(list(case.sizes), init=case.init, seed=case.seed, dtype="float64")
    rng = np.random.default_rng([case.seed, 1])
    # Biases are zero after init; random ones exercise the bias paths.
    params = [(W, 0.1 * rng.standard_normal(b.shape)) for W, b in params]
    X = case.scale * rng.standard_normal((case.batch, case.sizes[0]))
    y = rng.integers(0, case.sizes[-1], size=case.batch)
    return params, X, y


def loss_and_grads(twin, params, X, y, activation):
    """``twin``'s loss and gradients, the gradients copied (a twin may reuse its buffers)."""
    loss, grads = twin.loss_and_grads(params, X, y, activation)
    return loss, [(np.array(dW), np.array(db)) for dW, db in grads]


def rng_for(case, stream):
    """A generator for the test's own draws, determined by the case (for replay)."""
    return np.random.default_rng([case.seed, stream])


def flat(grads):
    """The tensors of a grads list in order: dW_0, db_0, dW_1, ..."""
    return [t for pair in grads for t in pair]


def abs_backward(params, X, activation, upstream):
    """The backward pass with every factor replaced by its absolute value.

    For a non-negative ``upstream`` (B, C) this gives, per parameter entry,
    the sum of |terms| that make up that entry of backward(upstream): the
    scale that bounds its rounding error, whatever cancellation there is.
    Written here, apart from the manual twin, with g' >= 0 for every
    activation in the registry. Returns a list of (|dW|-like, |db|-like) pairs.
    """
    act = manual.ACTIVATIONS[activation]
    _, cache = manual.forward_cache(params, X, activation)
    out = [None] * len(cache)
    dA = upstream
    for k in reversed(range(len(cache))):
        (x, W), z = cache[k]
        dz = dA if z is None else dA * np.abs(act.deriv(z))
        out[k] = (np.abs(x).T @ dz, dz.sum(axis=0))
        dA = dz @ np.abs(W).T
    return out


def forward_scale(params, X, activation):
    """The largest sum of |terms| of any pre-activation: max over layers of |x| @ |W| + |b|."""
    _, cache = manual.forward_cache(params, X, activation)
    return max(float(np.max(np.abs(x) @ np.abs(W) + np.abs(b)))
               for ((x, W), _), (_, b) in zip(cache, params))


def assert_close_per_tensor(got, want, bounds, what=""):
    """|got - want|_max <= bound for each tensor (bounds: one float per tensor).

    A small absolute term covers subnormal gradients, which have no relative
    precision.
    """
    got, want = flat(got), flat(want)
    assert len(got) == len(want) == len(bounds)
    for i, (g, w, bound) in enumerate(zip(got, want, bounds)):
        assert g.shape == w.shape, (what, i, g.shape, w.shape)
        err = np.max(np.abs(g - w))
        assert err <= bound + 1e3 * np.finfo(np.float64).tiny, (
            f"{what}: tensor {i} ({'dW' if i % 2 == 0 else 'db'}_{i // 2}) differs by "
            f"{err:.3g} > {bound:.3g} (largest entry {np.max(np.abs(w)):.3g})")


def rounding_bounds(params, X, activation, upstream, rtol):
    """Per tensor: rtol * (largest sum of |terms|) for backward(upstream)."""
    return [rtol * float(np.max(t)) for t in flat(abs_backward(params, X, activation,
                                                                np.abs(upstream)))]


def softmax_gradient(logits, y):
    """Test-local (softmax(logits) - onehot(y)) / B; (B, C) -> (B, C)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(shifted)
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1
    return p / len(y)


def logits_loss(twin, logits, y):
    """The twin's own mean cross-entropy of ``logits`` (B, C), and its dL/dlogits (B, C).

    A one-layer network with W = logits on the identity input has exactly
    these logits (x @ I adds only zeros), so the twin's public
    loss_and_grads gives the loss of the logits and dW = I^T dL/dlogits.
    """
    batch, n_classes = logits.shape
    loss, [(dW, _)] = loss_and_grads(twin, [(logits, np.zeros(n_classes))], np.eye(batch), y,
                                     "identity")
    return loss, dW


def mean_cross_entropy(logits, y):
    """Test-local mean softmax cross-entropy, log-sum-exp form; logits (B, C) -> float."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    lse = np.log(np.exp(shifted).sum(axis=1))
    return float(np.mean(lse - shifted[np.arange(len(y)), y]))


# ---------------------------------------------------------------- two oracles

@settings(print_blob=True)
@given(cases())
def test_every_twin_matches_autodiff_for_every_activation(case):
    params, X, y = make_problem(case)
    for activation in ACTIVATIONS:
        loss_a, grads_a = loss_and_grads(autodiff, params, X, y, activation)
        logits = manual.forward(params, X, activation)
        for name, twin in TWINS.items():
            if twin is not autodiff:
                _check_against_autodiff(name, twin, params, X, y, activation, logits,
                                        loss_a, grads_a)


def _check_against_autodiff(name, twin, params, X, y, activation, logits, loss_a, grads_a):
    """One twin against autodiff: logits, loss and gradients."""
    loss_m, grads_m = loss_and_grads(twin, params, X, y, activation)
    # Logits: each layer's sums of <= 32 products (plus a rounding of g of a few
    # eps, as the buffered twin's in-place tanh has) err by <= ~40 eps of their
    # sum of |terms|; allow 64 eps of the largest such sum, per layer.
    bound = 64 * len(params) * EPS * forward_scale(params, X, activation)
    assert np.max(np.abs(twin.forward(params, X, activation) - logits)) <= bound, name
    z_max = np.max(np.abs(logits))
    # L = mean(lse - z_y) subtracts numbers of size max|z|: its absolute
    # error is a few eps * max|z| whatever |L| is.
    assert abs(loss_m - loss_a) <= 1e-10 * abs(loss_a) + 8 * EPS * z_max, (name, activation)
    # Gradients: two independent float64 evaluations of the same sums.
    # (1) Each entry's rounding error is ~depth * width * eps ~ 1e-14 of
    #     its sum of |terms|; allow 1e-10 of it (room for nothing wrong: a
    #     wrong formula is >= 1e-3 off).
    # (2) dL/dlogits itself is only known to an absolute ~(4 max|z| + 6) eps / B
    #     per entry in each twin: softmax from log-softmax carries the
    #     rounding of z - max z, and p - 1 for p near 1 keeps no more than
    #     eps absolute. Propagate both through |backward|.
    batch = len(y)
    upstream = 1e-10 * np.abs(softmax_gradient(logits, y)) + 2 * (4 * z_max + 6) * EPS / batch
    bounds = [float(np.max(t)) for t in flat(abs_backward(params, X, activation, upstream))]
    assert_close_per_tensor(grads_m, grads_a, bounds, what=f"{name} {activation}")


def _near_kink(params, X, activation, tensor, direction, step):
    """True if moving ``tensor`` by ±step * direction brings a pre-activation near 0.

    "Near" = |z| within twice the largest move of any pre-activation: then
    the stencil may straddle the kink and the quotient is not a derivative.
    """
    def pre_activations(sign):
        moved = _moved(params, tensor, sign * step * direction)
        _, cache = manual.forward_cache(moved, X, activation)
        return [act_cache for _, act_cache in cache if act_cache is not None]

    z0, zp, zm = pre_activations(0), pre_activations(1), pre_activations(-1)
    return any(np.any(np.abs(a) <= 2 * np.maximum(np.abs(b - a), np.abs(c - a)))
               for a, b, c in zip(z0, zp, zm))


def _moved(params, tensor, delta):
    """A copy of params with ``delta`` added to flat tensor number ``tensor``."""
    tensors = [t.copy() for t in flat(params)]
    tensors[tensor] = tensors[tensor] + delta
    return list(zip(tensors[0::2], tensors[1::2]))


@settings(print_blob=True)
@given(cases())
def test_each_twin_matches_central_differences_for_every_activation(case):
    params, X, y = make_problem(case)
    rng = rng_for(case, 2)
    n_tensors = 2 * len(params)
    directions = [rng.standard_normal(t.shape) for t in flat(params)]
    for activation in ACTIVATIONS:
        for name, twin in TWINS.items():
            _, grads = loss_and_grads(twin, params, X, y, activation)
            logits = twin.forward(params, X, activation)

            def loss_along(tensor, t, twin=twin, activation=activation):
                moved = _moved(params, tensor, t * directions[tensor])
                return mean_cross_entropy(twin.forward(moved, X, activation), y)

            for tensor in range(n_tensors):
                v = directions[tensor]
                exact = float(np.sum(flat(grads)[tensor] * v))  # <grad, v>
                # Step: L is smooth on the scale of the logits, so aim for a
                # logit move of ~(eps * |z|max)^(1/3), the V-curve optimum.
                # speed = |dz/dt| along v, measured by a small difference.
                delta = 1e-7
                speed = np.max(np.abs(twin.forward(_moved(params, tensor, delta * v), X, activation)
                                      - logits)) / delta
                z_max = max(1.0, float(np.max(np.abs(logits))))
                step = np.cbrt(EPS * z_max) / max(speed, 1.0)
                if activation in KINKED and _near_kink(params, X, activation, tensor, v, 2 * step):
                    note(f"{activation}/{name}: tensor {tensor} skipped, a pre-activation "
                         f"lies within the stencil of the kink")
                    continue
                d1 = (loss_along(tensor, step) - loss_along(tensor, -step)) / (2 * step)
                d2 = (loss_along(tensor, 2 * step) - loss_along(tensor, -2 * step)) / (4 * step)
                # Truncation: D(h) = L' + c h^2 + O(h^4), so D(2h) - D(h) = 3 c h^2
                # estimates D(h)'s error (Richardson); x4 for the O(h^4) rest.
                truncation = 4 * abs(d2 - d1) / 3
                # Rounding: each L is lse - z_y, a difference of numbers of size
                # |z|max computed through sums of <= 32 terms per layer, so its
                # error is <= 32 * depth * eps * |z|max; the quotient divides the
                # difference of two such errors by 2h.
                rounding = 32 * len(params) * EPS * z_max / step
                # 1e-9 relative: a floor for when c h^2 happens to be tiny and the
                # estimate with it (the O(h^4) rest still counts); any bug worth
                # finding (wrong g', lost 1/B, swapped terms) is >= 1e-3 off.
                tol = truncation + rounding + 1e-9 * abs(exact)
                assert abs(d1 - exact) <= tol, (
                    f"{name} {activation}: tensor {tensor} <grad, v> = {exact!r}, "
                    f"central difference {d1!r} (h = {step:.3g}, tolerance {tol:.3g})")


# ------------------------------------------------------- softmax cross-entropy

@settings(print_blob=True)
@given(cases())
def test_softmax_cross_entropy_gradient_rows_sum_to_zero(case):
    params, X, y = make_problem(case)
    logits = manual.forward(params, X, case.activation)
    batch, n_classes = logits.shape
    reference = manual.SoftmaxCrossEntropy.delta(logits, y)
    for name, dlogits in (("manual.SoftmaxCrossEntropy", reference),
                          *((name, logits_loss(twin, logits, y)[1])
                            for name, twin in TWINS.items())):
        # Row b is (softmax(z_b) - onehot(y_b)) / B. The computed softmax sums
        # to 1 within ~(C + 2) eps (C rounded exps and their sum; the log-sum-exp
        # error weighs in only through sum p log p <= log C <= C).
        row_sums = dlogits.sum(axis=1)
        assert np.all(np.abs(row_sums) <= 4 * (n_classes + 2) * EPS / batch), (name, row_sums)


@settings(print_blob=True)
@given(cases(), st.integers(-6, 6), st.booleans())
def test_loss_is_unchanged_by_adding_a_constant_to_a_row_of_logits(case, log_shift, negative):
    params, X, y = make_problem(case)
    logits = manual.forward(params, X, case.activation)
    row = int(rng_for(case, 3).integers(len(logits)))
    shift = (-1.0 if negative else 1.0) * 10.0 ** log_shift
    shifted = logits.copy()
    shifted[row] += shift
    for name, twin in TWINS.items():
        loss, dlogits = logits_loss(twin, logits, y)
        loss_s, dlogits_s = logits_loss(twin, shifted, y)
        # Adding c rounds each entry of the row by <= eps |z + c| and the row's
        # log-softmax moves by <= 2 eps max|z + c|; L (a mean over rows of a
        # 1-Lipschitz function of log-softmax) moves by at most that.
        tol = 4 * EPS * (np.max(np.abs(logits)) + abs(shift)) + 4 * EPS * abs(loss)
        assert abs(loss_s - loss) <= tol, (name, loss, loss_s, shift)
        assert np.max(np.abs(dlogits_s - dlogits)) <= tol, name


# ------------------------------------------------------------------- the batch

def _per_example_grads(twin, params, X, y, activation):
    """List over the batch of each single example's grads."""
    return [loss_and_grads(twin, params, X[i:i + 1], y[i:i + 1], activation)[1]
            for i in range(len(X))]


@settings(print_blob=True)
@given(cases())
def test_batch_gradient_is_the_mean_of_per_example_gradients(case):
    params, X, y = make_problem(case)
    for name, twin in TWINS.items():
        _, grads = loss_and_grads(twin, params, X, y, case.activation)
        per_example = _per_example_grads(twin, params, X, y, case.activation)
        mean = [(np.mean([g[k][0] for g in per_example], axis=0),
                 np.mean([g[k][1] for g in per_example], axis=0)) for k in range(len(params))]
        # Both sides add the same products, grouped differently; each sum of
        # <= depth * (width + batch) terms errs by <= ~1e-13 of its sum of
        # |terms| (abs_backward); 1e-11 of it leaves 100x room.
        logits = manual.forward(params, X, case.activation)
        bounds = rounding_bounds(params, X, case.activation, softmax_gradient(logits, y), 1e-11)
        assert_close_per_tensor(grads, mean, bounds, what=f"{name} {case.activation}")


@settings(print_blob=True)
@given(cases())
def test_permuting_the_batch_leaves_gradients_unchanged(case):
    params, X, y = make_problem(case)
    perm = rng_for(case, 4).permutation(len(X))
    for name, twin in TWINS.items():
        loss, grads = loss_and_grads(twin, params, X, y, case.activation)
        loss_p, grads_p = loss_and_grads(twin, params, X[perm], y[perm], case.activation)
        logits = manual.forward(params, X, case.activation)
        # The same sums in another order: the rounding bound of the test above.
        bounds = rounding_bounds(params, X, case.activation, softmax_gradient(logits, y), 1e-11)
        assert_close_per_tensor(grads_p, grads, bounds, what=f"{name} {case.activation}")
        assert abs(loss_p - loss) <= 1e-12 * abs(loss) + 8 * EPS * np.max(np.abs(logits))


# ---------------------------------------------------------- manual.backward

@settings(print_blob=True)
@given(cases())
def test_backward_is_linear_in_the_upstream_gradient(case):
    params, X, _ = make_problem(case)
    rng = rng_for(case, 5)
    logits, cache = manual.forward_cache(params, X, case.activation)
    u, w = rng.standard_normal(logits.shape), rng.standard_normal(logits.shape)
    a, b = (rng.standard_normal() * 10.0 ** rng.uniform(-3, 3) for _ in range(2))
    back = lambda upstream: manual.backward(params, cache, upstream, case.activation)  # noqa: E731
    gu, gw = back(u), back(w)
    combined = back(a * u + b * w)
    expected = [(a * dWu + b * dWw, a * dbu + b * dbw)
                for (dWu, dbu), (dWw, dbw) in zip(gu, gw)]
    # Rounding: every entry of backward(a u + b w) is a sum of products whose
    # error is ~depth * width * eps ~ 1e-14 of its sum of |terms|, which
    # abs_backward(|a u| + |b w|) bounds; 1e-11 of it leaves room.
    bounds = rounding_bounds(params, X, case.activation, np.abs(a * u) + np.abs(b * w), 1e-11)
    assert_close_per_tensor(combined, expected, bounds, what=case.activation)


@settings(print_blob=True)
@given(cases())
def test_each_layer_backward_is_the_adjoint_of_its_linearisation(case):
    """<J u, v> = <u, J^T v> for every layer, J its Jacobian at the cached point.

    J u is the layer's linearisation written here (forward mode):
    dz = dx W + x dW + db, then da = g'(z) * dz for a hidden layer; J^T v is
    the manual twin's layer backward (manual.layers). A transposed, dropped or
    mis-scaled term in the backward breaks the identity.
    """
    params, X, _ = make_problem(case)
    act = manual.ACTIVATIONS[case.activation]
    rng = rng_for(case, 6)
    _, cache = manual.forward_cache(params, X, case.activation)
    for k, ((x, W), z) in enumerate(cache):
        b_shape = (W.shape[1],)
        dx, dW, db = (rng.standard_normal(s) for s in (x.shape, W.shape, b_shape))
        v = rng.standard_normal((x.shape[0], W.shape[1]))
        gprime = np.ones((x.shape[0], W.shape[1])) if z is None else act.deriv(z)
        Ju = gprime * (dx @ W + x @ dW + db)
        dz = v if z is None else activation_backward(v, z, act)
        JTv_x, JTv_W, JTv_b = affine_backward(dz, (x, W), need_dx=True)
        lhs = np.sum(Ju * v)
        rhs = np.sum(dx * JTv_x) + np.sum(dW * JTv_W) + np.sum(db * JTv_b)
        # Both sides are the same sum of products dx_bi W_ij g'_bj v_bj + ...,
        # evaluated in different orders; the error of a sum is at most
        # (length of its longest chain of additions) * eps * (sum of |terms|).
        abs_terms = np.sum(np.abs(gprime) * (np.abs(dx) @ np.abs(W) + np.abs(x) @ np.abs(dW)
                                             + np.abs(db)) * np.abs(v))
        chain = x.shape[1] + x.shape[0] + W.shape[1] + 8
        assert abs(lhs - rhs) <= 2 * chain * EPS * abs_terms, (
            f"layer {k}: <J u, v> = {lhs!r} but <u, J^T v> = {rhs!r}")


@settings(print_blob=True)
@given(cases())
def test_backward_twice_is_bit_identical(case):
    params, X, y = make_problem(case)
    logits, cache = manual.forward_cache(params, X, case.activation)
    dlogits = manual.SoftmaxCrossEntropy.delta(logits, y)
    cache_before, dlogits_before = copy.deepcopy(cache), dlogits.copy()
    first = manual.backward(params, cache, dlogits, case.activation)
    second = manual.backward(params, cache, dlogits, case.activation)
    for g1, g2 in zip(flat(first), flat(second)):
        assert g1.tobytes() == g2.tobytes()
    # Neither the cache nor the upstream gradient was modified in place.
    assert dlogits.tobytes() == dlogits_before.tobytes()
    for (aff, z), (aff0, z0) in zip(cache, cache_before):
        assert all(a.tobytes() == a0.tobytes() for a, a0 in zip(aff, aff0))
        assert (z is None and z0 is None) or z.tobytes() == z0.tobytes()
    for twin in TWINS.values():
        (l1, g1), (l2, g2) = (loss_and_grads(twin, params, X, y, case.activation)
                              for _ in range(2))
        assert l1 == l2
        assert all(a.tobytes() == b.tobytes() for a, b in zip(flat(g1), flat(g2)))
