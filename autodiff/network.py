"""The autograd twin: its own forward pass; every gradient from autograd.grad.

Written independently of ``manual`` (it never imports it) so that it can act
as an oracle: the same network and loss, but no hand-derived derivative
anywhere. Parameters, shapes and dtypes are as in ``manual``: a list of K
pairs ``(W (n_k, n_{k+1}), b (n_{k+1},))``, hidden layers ``g(x W + b)``, a
linear output layer, then mean softmax cross-entropy via log-sum-exp.

Each activation below is written so that autograd's own derivative rules
never overflow for finite input and keep the float32/float64 dtype (which is
why ``anp.where`` is avoided: its gradient rule builds float64 zeros).
"""

import functools
from collections.abc import Callable, Sequence
from typing import Any

import autograd.numpy as anp
import numpy as np
from autograd import value_and_grad
from autograd.extend import notrace_primitive
from numpy.typing import NDArray

from compare.common.errors import ConfigError
from compare.common.validate import check_input, check_labels

Params = list[tuple[NDArray, NDArray]]


def _sigmoid(x: Any) -> Any:
    # 1 / (1 + exp(-x)) = exp(-log(1 + exp(-x))); logaddexp never overflows,
    # and neither does its gradient rule, exp(x - logaddexp(0, x)).
    return anp.exp(-anp.logaddexp(0, -x))


def _tanh(x: Any) -> Any:
    # autograd's rule for tanh is g / cosh(x)**2, which overflows once
    # cosh(x)**2 exceeds the largest float (|x| > ~355 in float64, ~44 in
    # float32). tanh is exactly +-1 there in floating point already, so
    # clipping first changes no value; the gradient it zeroes is below the
    # smallest normal float.
    bound = 0.5 * float(np.log(np.finfo(x.dtype).max))
    return anp.tanh(anp.clip(x, -bound, bound))


def _relu(x: Any) -> Any:
    # x * [x > 0]: the derivative autograd finds is [x > 0], i.e. 0 at x == 0,
    # the same convention as the manual twin (np.maximum would split 1/2, 1/2).
    return x * (x > 0)


def _leaky_relu(x: Any) -> Any:
    # slope 1 for x > 0, 0.01 otherwise (also at x == 0)
    return x * (x > 0) + 0.01 * x * (x <= 0)


def _softplus(x: Any) -> Any:
    return anp.logaddexp(0, x)


def _identity(x: Any) -> Any:
    return x


# name -> autograd.numpy function; public so derivative studies can differentiate it
ACTIVATION_FUNCTIONS: dict[str, Callable] = {
    "sigmoid": _sigmoid,
    "tanh": _tanh,
    "relu": _relu,
    "leaky_relu": _leaky_relu,
    "softplus": _softplus,
    "identity": _identity,
}
ACTIVATION_NAMES: tuple[str, ...] = tuple(ACTIVATION_FUNCTIONS)


def _activation(activation: object) -> Callable:
    """The function of activation ``activation``: a registered name, or an
    activation object whose ``fn`` autograd can trace (written with
    ``autograd.numpy``); raise ConfigError otherwise."""
    if isinstance(activation, str):
        try:
            return ACTIVATION_FUNCTIONS[activation]
        except KeyError:
            pass
    elif callable(getattr(activation, "fn", None)):
        return activation.fn  # type: ignore[attr-defined]
    raise ConfigError(
        f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATION_NAMES)}")


# The row maximum only shifts the logits so that exp never overflows; the
# loss does not depend on it (d/dm of log sum exp(s - m) + m is 1 - sum
# softmax = 0), so autograd is told not to trace it, as JAX's logsumexp does.
_row_max = notrace_primitive(lambda s: np.max(s, axis=1, keepdims=True))


def _logits(arrays: Sequence[Any], X: Any, g: Callable[[Any], Any]) -> Any:
    """(B, n_0) -> (B, n_K): hidden layers g(x W + b), then a linear layer.

    ``arrays`` is the flat sequence (W_0, b_0, ..., W_{K-1}, b_{K-1}).
    """
    x = X
    for k in range(0, len(arrays) - 2, 2):
        x = g(x @ arrays[k] + arrays[k + 1])
    return x @ arrays[-2] + arrays[-1]


def _mean_cross_entropy(*args: Any) -> Any:
    """Mean over the batch of -log softmax(logits)[y], via log-sum-exp.

    Args: W_0, b_0, ..., W_{K-1}, b_{K-1}, X (B, n_0), y (B,), g.
    """
    *arrays, X, y, g = args
    logits = _logits(arrays, X, g)
    shifted = logits - _row_max(logits)
    log_sum_exp = anp.log(anp.sum(anp.exp(shifted), axis=1))        # (B,), minus the max
    return anp.mean(log_sum_exp - shifted[np.arange(len(y)), y])


@functools.cache
def _loss_and_param_grads(n_layers: int) -> Callable[..., tuple[Any, tuple[NDArray, ...]]]:
    """d(loss)/d(params) for K layers: autograd differentiates the function above.

    The 2K parameter arrays are separate arguments, not a list of pairs:
    autograd would meet every ``params[k]`` and ``W, b = pair`` as a node of
    its own, then build and add a zero copy of the whole list for each.
    """
    return value_and_grad(_mean_cross_entropy, tuple(range(2 * n_layers)))


def _flat(params: Params) -> tuple[NDArray, ...]:
    """[(W_0, b_0), ...] -> (W_0, b_0, ...), the arrays themselves (no copies)."""
    return tuple(a for pair in params for a in pair)


def forward(params: Params, X: NDArray, activation: object = "tanh") -> NDArray:
    """Logits of the network.

    Args:
        params: list of K pairs (W (n_k, n_{k+1}), b (n_{k+1},)).
        X: (B, n_0) inputs (cast to the parameters' dtype).
        activation: one of :data:`ACTIVATION_NAMES`.
    Returns:
        (B, n_K) logits, the dtype of the parameters.
    """
    g = _activation(activation)
    return _logits(_flat(params), check_input(params, X), g)


def loss(params: Params, X: NDArray, y: NDArray, activation: object = "tanh") -> float:
    """Mean softmax cross-entropy: the very function autograd differentiates.

    Args:
        params: list of K pairs (W, b); X: (B, n_0); y: (B,) integer labels;
        activation: one of :data:`ACTIVATION_NAMES` (or an activation object).
    Returns:
        float.
    """
    g = _activation(activation)
    X = check_input(params, X)
    y = check_labels(y, len(X), params[-1][0].shape[1])
    return float(_mean_cross_entropy(*_flat(params), X, y, g))


def loss_and_grads(params: Params, X: NDArray, y: NDArray,
                   activation: object = "tanh") -> tuple[float, Params]:
    """Mean softmax cross-entropy and its gradient, by autograd.

    Args:
        params: list of K pairs (W, b); X: (B, n_0).
        y: (B,) integer labels in [0, n_K), any integer dtype.
        activation: one of :data:`ACTIVATION_NAMES`.
    Returns:
        loss: float.
        grads: list of K pairs (dW_k, db_k), shaped and typed like params.
    """
    g = _activation(activation)
    X = check_input(params, X)
    y = check_labels(y, len(X), params[-1][0].shape[1])
    value, grads = _loss_and_param_grads(len(params))(*_flat(params), X, y, g)
    return float(value), list(zip(grads[0::2], grads[1::2]))
