"""Every registered twin agrees with the autograd twin, plus init and loss facts.

The autodiff twin is the oracle here (its gradients come from autograd, with
no hand-written derivative); every other twin of ``compare.twins.TWINS`` is
held to it. tests/test_oracle.py holds all of them, autodiff included, to
oracles outside the project.
"""

import warnings

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad
from hypothesis import given
from hypothesis import strategies as st

import autodiff
import manual
from compare.common.errors import ConfigError, DataError
from compare.common.init import INITS, init_params, init_std
from compare.twins import TWINS
from manual.loss import SoftmaxCrossEntropy

ACTIVATION_NAMES = sorted(manual.ACTIVATIONS)
RTOL64 = 1e-10
RTOL32 = 1e-4


def _norm(a):
    """Frobenius norm of a float64 copy, scaled first so tiny entries do not underflow."""
    a = np.asarray(a, dtype=np.float64)
    scale = np.abs(a).max(initial=0.0)
    return 0.0 if scale == 0.0 else scale * np.linalg.norm(a / scale)


def assert_close(a, b, rtol, what, floor=0.0):
    """Norm-relative agreement of one tensor: ||a - b|| <= rtol * max(||a||, ||b||, floor).

    ``floor`` is the size this tensor has when nothing is small by accident
    (see :func:`natural_gradient_scale`); without it a gradient that is tiny
    because every prediction is confidently right would have to agree in
    digits that neither twin computes (both are exact only to rounding of the
    probabilities, ~1e-16 absolute).
    """
    diff = _norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))
    size = max(_norm(a), _norm(b), floor)
    assert diff <= rtol * size, f"{what}: ||a - b|| = {diff:.3g}, rtol * size = {rtol * size:.3g}"


def natural_gradient_scale(params, X, activation):
    """Per layer, (size of dW_k, size of db_k) for a unit upstream gradient.

    The loss gradient at the logits, softmax - onehot over B, is known to
    rounding only: ~eps/B per entry, absolutely. Back-propagating 1/B per
    logit through |W|, |g'(z)| and |x| bounds how large any gradient
    computed from it can be, and so how large its rounding can be; agreement
    is judged relative to that, or to the gradient itself when larger.
    Slopes |g'(z)| below 1e-280 count as 1e-280: that close to underflow one
    twin may round a slope to a subnormal and the other to 0.

    Returns:
        list of K pairs of floats.
    """
    logits, cache = manual.forward_cache(params, X, activation)
    act = manual.ACTIVATIONS[activation]
    dA = np.full(logits.shape, 1.0 / len(X))
    scales = [None] * len(params)
    for k in reversed(range(len(params))):
        (x, W), z = cache[k]
        dz = dA if z is None else dA * np.maximum(np.abs(act.deriv(z)), 1e-280)
        scales[k] = (_norm(np.abs(x).T @ dz), _norm(dz.sum(axis=0)))
        dA = dz @ np.abs(W).T
    return scales


def run_strict(fn, *args):
    """Call fn with every RuntimeWarning and numpy overflow/invalid/divide an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            return fn(*args)


def copied(loss_and_grads, *args):
    """(loss, grads) with the gradients copied: a twin may reuse its buffers."""
    loss, grads = loss_and_grads(*args)
    return loss, [(np.array(dW), np.array(db)) for dW, db in grads]


def assert_twins_agree(params, X, y, activation, rtol):
    """Every twin against autodiff: same logits, loss and gradients (norm-relative per tensor).

    Returns:
        {twin name: its gradients}.
    """
    logits_a = run_strict(autodiff.forward, params, X, activation)
    loss_a, grads_a = run_strict(copied, autodiff.loss_and_grads, params, X, y, activation)
    assert isinstance(loss_a, float)
    scales = natural_gradient_scale(params, X, activation)
    grads = {"autodiff": grads_a}
    for name, twin in TWINS.items():
        if twin is autodiff:
            continue
        logits_m = run_strict(twin.forward, params, X, activation)
        assert_close(logits_m, logits_a, rtol, f"{name} logits")
        loss_m, grads_m = run_strict(copied, twin.loss_and_grads, params, X, y, activation)
        assert isinstance(loss_m, float)
        # the loss is a difference of logits, so it is known to rounding of the largest
        assert_close(loss_m, loss_a, rtol, f"{name} loss", floor=np.abs(logits_m).max())
        assert len(grads_m) == len(grads_a) == len(params)
        for k, ((W, b), (dW_m, db_m), (dW_a, db_a), (sW, sb)) in enumerate(
                zip(params, grads_m, grads_a, scales)):
            assert dW_m.shape == dW_a.shape == W.shape
            assert db_m.shape == db_a.shape == b.shape
            assert_close(dW_m, dW_a, rtol, f"{name} dW_{k}", floor=sW)
            assert_close(db_m, db_a, rtol, f"{name} db_{k}", floor=sb)
        grads[name] = grads_m
    return grads


@st.composite
def problems(draw):
    """A random network, batch and labels: 1-4 weight layers, widths 1-32, batch 1-16."""
    depth = draw(st.integers(1, 4))
    sizes = [draw(st.integers(1, 32)) for _ in range(depth + 1)]
    batch = draw(st.integers(1, 16))
    input_scale = 10.0 ** draw(st.integers(-8, 3))
    init = draw(st.sampled_from(INITS))
    seed = draw(st.integers(0, 2**32 - 1))
    random_biases = draw(st.booleans())
    rng = np.random.default_rng(seed)
    params = init_params(sizes, init=init, seed=seed)
    if random_biases:
        params = [(W, rng.standard_normal(b.shape)) for W, b in params]
    X = input_scale * rng.standard_normal((batch, sizes[0]))
    y = rng.integers(0, sizes[-1], size=batch)
    return params, X, y


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
@given(problem=problems())
def test_every_twin_matches_autodiff_for_every_activation(activation, problem):
    params, X, y = problem
    assert_twins_agree(params, X, y, activation, RTOL64)


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_no_runtime_warning_for_huge_inputs_and_wide_layers(activation, dtype):
    # The paper's N(0, 1) weights, 800 hidden units, inputs 1000x MNIST's range:
    # pre-activations reach ~1e4 and relu logits ~1e6.
    rng = np.random.default_rng(7)
    params = init_params([784, 800, 10], init="normal", seed=3, dtype=dtype)
    X = (1e3 * rng.random((4, 784))).astype(dtype)
    y = np.array([0, 3, 9, 9])
    for twin in (manual, autodiff):
        loss, grads = run_strict(twin.loss_and_grads, params, X, y, activation)
        assert np.isfinite(loss)
        assert all(np.isfinite(g).all() for pair in grads for g in pair)
    if dtype == "float64":
        assert_twins_agree(params, X, y, activation, RTOL64)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "softplus"])
@pytest.mark.parametrize("z", [-800.0, -360.0, -40.0, -18.0, 18.0, 40.0, 360.0, 800.0])
def test_saturated_units_keep_relative_precision(activation, z):
    # One hidden unit with pre-activation z: its slope (e.g. tanh'(40) ~ 7e-35)
    # sets the whole first-layer gradient, which must still agree in relative
    # terms. The paper's 1 - tanh(z)**2 would give 0 here.
    params = [(np.array([[1.0]]), np.zeros(1)), (np.array([[1.0, -2.0, 0.5]]), np.zeros(3))]
    X = np.array([[z], [z]])
    y = np.array([0, 2])
    assert_twins_agree(params, X, y, activation, RTOL64)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_kink_convention_agrees_when_preactivations_are_exactly_zero(activation):
    # Zero inputs and zero biases put every hidden z exactly on the kink. Both
    # twins take the left derivative there (0 for relu, 0.01 for leaky_relu);
    # np.maximum in autograd would have split it 1/2, 1/2.
    params = init_params([5, 4, 3], init="normal", seed=1)
    X = np.zeros((2, 5))
    y = np.array([0, 2])
    grads_m = assert_twins_agree(params, X, y, activation, RTOL64)["manual"]
    W1 = params[1][0]
    logits = np.zeros((2, 3))        # hidden output is 0, so logits = b1 = 0
    dA1 = SoftmaxCrossEntropy.delta(logits, y) @ W1.T
    slope = manual.ACTIVATIONS[activation].deriv(np.zeros(1))[0]
    assert slope == {"relu": 0.0, "leaky_relu": 0.01}[activation]
    np.testing.assert_allclose(grads_m[0][1], slope * dA1.sum(axis=0), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_edge_cases_batch_of_one_single_hidden_unit_and_one_class(activation):
    rng = np.random.default_rng(11)
    cases = {
        "batch of one": ([6, 5, 3], 1, None),
        "single hidden unit": ([6, 1, 3], 4, None),
        "batch of one class": ([6, 5, 3], 8, 2),
        "one output class": ([6, 5, 1], 3, 0),
    }
    for sizes, batch, label in cases.values():
        params = init_params(sizes, init="normal", seed=5)
        X = rng.standard_normal((batch, sizes[0]))
        if label is None:
            y = rng.integers(0, sizes[-1], size=batch)
        else:
            y = np.full(batch, label)
        assert_twins_agree(params, X, y, activation, RTOL64)


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_float32_is_kept_and_agrees_to_single_precision(activation):
    rng = np.random.default_rng(2)
    params32 = init_params([20, 16, 8, 5], init="xavier", seed=4, dtype="float32")
    X = rng.random((7, 20))                       # float64 data, float32 network
    y = rng.integers(0, 5, size=7).astype(np.uint8)
    for name, twin in TWINS.items():
        logits = run_strict(twin.forward, params32, X, activation)
        assert logits.dtype == np.float32
        _, grads = run_strict(twin.loss_and_grads, params32, X, y, activation)
        assert all(g.dtype == np.float32 for pair in grads for g in pair), name
    assert_twins_agree(params32, X.astype(np.float32), y, activation, RTOL32)
    # and float32 tracks the float64 computation to single precision
    params64 = init_params([20, 16, 8, 5], init="xavier", seed=4, dtype="float64")
    _, grads64 = manual.loss_and_grads(params64, X, y, activation)
    _, grads32 = manual.loss_and_grads(params32, X, y, activation)
    scales = natural_gradient_scale(params64, X, activation)
    for g64, g32, pair_scale in zip(grads64, grads32, scales):
        for a, b, floor in zip(g64, g32, pair_scale):
            assert_close(a, b, RTOL32, "float32 vs float64", floor=floor)


@pytest.mark.parametrize("n_classes", [1, 2, 10])
def test_loss_is_log_n_classes_for_zero_logits(n_classes):
    params = [(np.zeros((4, n_classes)), np.zeros(n_classes))]
    X = np.random.default_rng(0).standard_normal((3, 4))
    y = np.zeros(3, dtype=np.int32)
    for twin in TWINS.values():
        loss, _ = twin.loss_and_grads(params, X, y, "identity")
        assert loss == pytest.approx(np.log(n_classes), rel=1e-15, abs=1e-15)
    expected = (np.full((3, n_classes), 1.0 / n_classes) - np.eye(n_classes)[y]) / 3
    np.testing.assert_allclose(SoftmaxCrossEntropy.delta(np.zeros((3, n_classes)), y),
                               expected, rtol=1e-15, atol=1e-17)


def test_loss_survives_huge_logits():
    # exp of these would overflow; log-sum-exp never exponentiates a positive number
    logits = np.array([[1e150, -1e150, 0.0], [-1e5, 1e5, 3.0]])
    y = np.array([1, 1])
    loss, delta = run_strict(SoftmaxCrossEntropy.fn_and_delta, logits, y)
    assert loss == pytest.approx((2e150 + 0.0) / 2)     # -log p = 2e150 and 0
    np.testing.assert_allclose(delta, [[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]], atol=1e-300)


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_backward_matches_autograd_for_an_arbitrary_upstream_gradient(activation):
    rng = np.random.default_rng(3)
    params = init_params([6, 5, 4, 3], init="normal", seed=9)
    params = [(W, rng.standard_normal(b.shape)) for W, b in params]
    X = rng.standard_normal((4, 6))
    upstream = rng.standard_normal((4, 3))
    logits, cache = manual.forward_cache(params, X, activation)
    grads_m = manual.backward(params, cache, upstream, activation)
    grads_a = grad(lambda p: anp.sum(autodiff.forward(p, X, activation) * upstream))(params)
    for (dW_m, db_m), (dW_a, db_a) in zip(grads_m, grads_a):
        assert_close(dW_m, dW_a, RTOL64, "dW")
        assert_close(db_m, db_a, RTOL64, "db")


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_each_derivative_matches_the_complex_step_derivative_of_its_function(activation):
    # Complex step: g'(z) = Im g(z + ih) / h, exact to rounding, no cancellation.
    act = manual.ACTIVATIONS[activation]
    z = np.concatenate([-np.logspace(-8, 2.5, 40), np.logspace(-8, 2.5, 40)])
    h = 1e-30
    complex_step = act.fn(z + 1j * h).imag / h
    np.testing.assert_allclose(act.deriv(z), complex_step, rtol=1e-12, atol=0)


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_activations_keep_dtype_and_never_warn(activation):
    act = manual.ACTIVATIONS[activation]
    for dtype in (np.float32, np.float64):
        big = float(np.finfo(dtype).max) / 4
        z = np.array([-big, -1e4, -30.0, -1.0, 0.0, 1.0, 30.0, 1e4, big], dtype=dtype)
        value = run_strict(act.fn, z)
        slope = run_strict(act.deriv, z)
        assert value.dtype == dtype and slope.dtype == dtype
        assert np.isfinite(slope).all()
    assert (act.kink is None) == (activation not in ("relu", "leaky_relu"))


def test_sigmoid_and_softplus_match_their_textbook_formulas_where_those_are_safe():
    z = np.linspace(-30, 30, 121)
    sigmoid, softplus = manual.ACTIVATIONS["sigmoid"], manual.ACTIVATIONS["softplus"]
    np.testing.assert_allclose(sigmoid.fn(z), 1 / (1 + np.exp(-z)), rtol=1e-14)
    np.testing.assert_allclose(softplus.fn(z), np.log1p(np.exp(z)), rtol=1e-14)


def test_every_twin_offers_the_same_activations_and_the_whole_interface():
    assert ACTIVATION_NAMES == sorted(
        ["sigmoid", "tanh", "relu", "leaky_relu", "softplus", "identity"])
    assert {"manual", "buffered", "autodiff"} <= set(TWINS)
    for name, twin in TWINS.items():
        assert sorted(twin.ACTIVATION_NAMES) == ACTIVATION_NAMES, name
        assert callable(twin.forward) and callable(twin.loss_and_grads), name


@pytest.mark.parametrize("twin", TWINS.values(), ids=list(TWINS))
def test_bad_activation_labels_or_shapes_raise_project_errors(twin):
    params = init_params([4, 3, 2], seed=0)
    X = np.ones((2, 4))
    with pytest.raises(ConfigError, match="choose one of"):
        twin.forward(params, X, "swish")
    with pytest.raises(ConfigError, match="choose one of"):
        twin.loss_and_grads(params, X, np.array([0, 1]), "swish")
    with pytest.raises(DataError):
        twin.loss_and_grads(params, X, np.array([0, 2]), "tanh")      # label out of range
    with pytest.raises(DataError):
        twin.loss_and_grads(params, X, np.array([0.0, 1.0]), "tanh")  # float labels
    with pytest.raises(ConfigError):
        twin.forward(params, np.ones((2, 5)), "tanh")                 # wrong input width


# init_params ------------------------------------------------------------------

@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_init_params_shapes_dtypes_and_zero_biases(init, dtype):
    sizes = [7, 5, 3, 2]
    params = init_params(sizes, init=init, seed=1, dtype=dtype)
    assert [(W.shape, b.shape) for W, b in params] == [
        ((7, 5), (5,)), ((5, 3), (3,)), ((3, 2), (2,))]
    for W, b in params:
        assert W.dtype == b.dtype == np.dtype(dtype)
        assert not b.any()


def test_init_params_is_seeded():
    a = init_params([9, 4, 3], init="he", seed=5)
    b = init_params([9, 4, 3], init="he", seed=5)
    c = init_params([9, 4, 3], init="he", seed=6)
    for (Wa, _), (Wb, _), (Wc, _) in zip(a, b, c):
        np.testing.assert_array_equal(Wa, Wb)
        assert not np.array_equal(Wa, Wc)
    # float32 parameters are the float64 ones rounded once
    a32 = init_params([9, 4, 3], init="he", seed=5, dtype="float32")
    for (W64, _), (W32, _) in zip(a, a32):
        np.testing.assert_array_equal(W64.astype(np.float32), W32)


@pytest.mark.parametrize("init, expected_var", [
    ("normal", lambda n_in, n_out: 1.0),
    ("xavier", lambda n_in, n_out: 2.0 / (n_in + n_out)),
    ("he", lambda n_in, n_out: 2.0 / n_in),
    ("lecun", lambda n_in, n_out: 1.0 / n_in),
])
def test_init_params_has_the_documented_mean_and_variance(init, expected_var):
    n_in, n_out = 400, 300
    (W, _), = init_params([n_in, n_out], init=init, seed=0)
    var = expected_var(n_in, n_out)
    assert init_std(init, n_in, n_out) ** 2 == pytest.approx(var)
    # 120000 draws: the sample variance is within ~0.4% (1 sigma) of the truth
    assert W.var() == pytest.approx(var, rel=0.03)
    assert abs(W.mean()) < 5 * np.sqrt(var / W.size)


def test_init_params_rejects_unknown_init_dtype_and_sizes():
    with pytest.raises(ConfigError, match="normal, xavier, he, lecun"):
        init_params([3, 2], init="glorot")
    with pytest.raises(ConfigError, match="float64, float32"):
        init_params([3, 2], dtype="int8")
    with pytest.raises(ConfigError):
        init_params([3])
    with pytest.raises(ConfigError):
        init_params([3, 0, 2])
