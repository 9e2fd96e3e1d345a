"""Every registered twin against oracles from outside the project.

* A high-precision reference written here with the standard library's
  ``decimal`` (60 significant digits): the network's loss evaluated in
  Decimal arithmetic, its gradient by central differences with a step of
  1e-25. Truncation error ~h^2 = 1e-50 and rounding ~1e-60 / h = 1e-35 of
  the loss's size: the reference is exact far beyond float64, saturated
  units included, and shares no formula with any twin (no derivative is
  written anywhere in it).
* PyTorch in float64, when it is installed (the ``bench`` extra): the same
  network through torch.autograd.

Each twin must match each oracle to 1e-9, relative to the size of each
gradient tensor.
"""

import decimal
from decimal import Decimal

import numpy as np
import pytest

from compare.common.init import init_params
from compare.twins import TWINS
from manual.activations import LEAKY_SLOPE

RTOL = 1e-9
PRECISION = 60
STEP = Decimal("1e-25")

_ONE = Decimal(1)


def _dec_activation(name):
    """g on one Decimal, written from its definition (no derivative anywhere)."""
    slope = Decimal(LEAKY_SLOPE)                   # the float's exact value, as the twins use
    return {
        "sigmoid": lambda z: _ONE / (_ONE + (-z).exp()),
        "tanh": lambda z: (_ONE - (-2 * z).exp()) / (_ONE + (-2 * z).exp()) if z >= 0
        else ((2 * z).exp() - _ONE) / ((2 * z).exp() + _ONE),
        "relu": lambda z: z if z > 0 else Decimal(0),
        "leaky_relu": lambda z: z if z > 0 else slope * z,
        "softplus": lambda z: (_ONE + z.exp()).ln() if z < 0 else z + (_ONE + (-z).exp()).ln(),
        "identity": lambda z: z,
    }[name]


def decimal_loss(tensors, X, y, activation):
    """Mean softmax cross-entropy in Decimal.

    Args:
        tensors: [W1, b1, W2, b2, ...] as nested lists of Decimal.
        X: (B, n_0) nested lists of Decimal; y: (B,) ints.
    """
    g = _dec_activation(activation)
    total = Decimal(0)
    layers = list(zip(tensors[0::2], tensors[1::2]))
    for x, label in zip(X, y):
        for k, (W, b) in enumerate(layers):
            z = [sum((x[i] * W[i][j] for i in range(len(x))), b[j]) for j in range(len(b))]
            x = z if k == len(layers) - 1 else [g(v) for v in z]
        top = max(x)
        total += (sum((v - top).exp() for v in x)).ln() + top - x[label]
    return total / len(y)


def decimal_gradient(params, X, y, activation):
    """Central differences of :func:`decimal_loss`, as float64 arrays [dW1, db1, ...]."""
    with decimal.localcontext() as ctx:
        ctx.prec = PRECISION
        tensors = [_to_decimal(t) for pair in params for t in pair]
        Xd = _to_decimal(X)
        grads = []
        for t, tensor in enumerate(tensors):
            flat = tensor if isinstance(tensor[0], Decimal) else None
            shape = np.shape(params[t // 2][t % 2])
            out = np.zeros(shape)
            for index in np.ndindex(shape):
                row = flat if flat is not None else tensor[index[0]]
                col = index[-1]
                base = row[col]
                row[col] = base + STEP
                up = decimal_loss(tensors, Xd, y, activation)
                row[col] = base - STEP
                down = decimal_loss(tensors, Xd, y, activation)
                row[col] = base
                out[index] = float((up - down) / (2 * STEP))
            grads.append(out)
    return grads


def _to_decimal(a):
    """A float64 array as nested lists of exact Decimals."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        return [Decimal(float(v)) for v in a]
    return [_to_decimal(row) for row in a]


def problem(activation, saturate):
    """A 5-4-3-3 network on 3 samples; ``saturate`` drives hidden units deep into saturation."""
    rng = np.random.default_rng(["sigmoid", "tanh", "relu", "leaky_relu", "softplus",
                                 "identity"].index(activation))
    params = init_params([5, 4, 3, 3], init="normal", seed=3)
    params = [(W, 0.1 * rng.standard_normal(b.shape)) for W, b in params]
    X = rng.standard_normal((3, 5)) * (12.0 if saturate else 1.0)
    y = np.array([0, 2, 1])
    return params, X, y


def assert_matches(got, want, what):
    """Per tensor: ||got - want|| <= RTOL * ||want||."""
    for k, (g, w) in enumerate(zip(got, want)):
        err, size = np.linalg.norm(np.asarray(g) - w), np.linalg.norm(w)
        assert err <= RTOL * size, f"{what}: tensor {k} off by {err:.3g}, {RTOL:g} of it is " \
                                   f"{RTOL * size:.3g}"


ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "softplus", "identity"]


@pytest.mark.parametrize("saturate", [False, True], ids=["moderate", "saturated"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_twin_matches_a_high_precision_reference(activation, saturate):
    params, X, y = problem(activation, saturate)
    reference = decimal_gradient(params, X, y, activation)
    for name, twin in TWINS.items():
        _, grads = twin.loss_and_grads(params, X, y, activation)
        assert_matches([t for pair in grads for t in pair], reference,
                       f"{name} {activation}")


def test_the_reference_sees_a_wrong_gradient():
    """The oracle is not blind: a 1e-6 relative error in one tensor fails it."""
    params, X, y = problem("tanh", saturate=False)
    reference = decimal_gradient(params, X, y, "tanh")
    _, grads = TWINS["manual"].loss_and_grads(params, X, y, "tanh")
    flat = [np.array(t) for pair in grads for t in pair]
    flat[2] = flat[2] * (1 + 1e-6)
    with pytest.raises(AssertionError, match="tensor 2"):
        assert_matches(flat, reference, "perturbed")


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_twin_matches_pytorch_float64(activation):
    torch = pytest.importorskip("torch")
    functional = {
        "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
        "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, LEAKY_SLOPE),
        # logaddexp(z, 0): torch's own softplus switches to z above a threshold
        "softplus": lambda z: torch.logaddexp(z, torch.zeros_like(z)),
        "identity": lambda z: z,
    }[activation]
    for saturate in (False, True):
        params, X, y = problem(activation, saturate)
        tensors = [torch.tensor(t, dtype=torch.float64, requires_grad=True)
                   for pair in params for t in pair]
        x = torch.tensor(X, dtype=torch.float64)
        for k in range(0, len(tensors), 2):
            x = x @ tensors[k] + tensors[k + 1]
            if k < len(tensors) - 2:
                x = functional(x)
        torch.nn.functional.cross_entropy(x, torch.tensor(y)).backward()
        reference = [t.grad.numpy() for t in tensors]
        for name, twin in TWINS.items():
            _, grads = twin.loss_and_grads(params, X, y, activation)
            assert_matches([t for pair in grads for t in pair], reference,
                           f"{name} {activation} vs PyTorch")
