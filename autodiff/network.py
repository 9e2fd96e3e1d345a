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

import autograd.numpy as anp
import numpy as np
from autograd import value_and_grad

from compare.errors import ConfigError
from compare.validate import check_input, check_labels


def _sigmoid(x):
    # 1 / (1 + exp(-x)) = exp(-log(1 + exp(-x))); logaddexp never overflows,
    # and neither does its gradient rule, exp(x - logaddexp(0, x)).
    return anp.exp(-anp.logaddexp(0, -x))


def _tanh(x):
    # autograd's rule for tanh is g / cosh(x)**2, which overflows once
    # cosh(x)**2 exceeds the largest float (|x| > ~355 in float64, ~44 in
    # float32). tanh is exactly +-1 there in floating point already, so
    # clipping first changes no value; the gradient it zeroes is below the
    # smallest normal float.
    bound = 0.5 * float(np.log(np.finfo(x.dtype).max))
    return anp.tanh(anp.clip(x, -bound, bound))


def _relu(x):
    # x * [x > 0]: the derivative autograd finds is [x > 0], i.e. 0 at x == 0,
    # the same convention as the manual twin (np.maximum would split 1/2, 1/2).
    return x * (x > 0)


def _leaky_relu(x):
    # slope 1 for x > 0, 0.01 otherwise (also at x == 0)
    return x * (x > 0) + 0.01 * x * (x <= 0)


def _softplus(x):
    return anp.logaddexp(0, x)


def _identity(x):
    return x


# name -> autograd.numpy function; public so derivative studies can differentiate it
ACTIVATIONS = {
    "sigmoid": _sigmoid,
    "tanh": _tanh,
    "relu": _relu,
    "leaky_relu": _leaky_relu,
    "softplus": _softplus,
    "identity": _identity,
}
ACTIVATION_NAMES = tuple(ACTIVATIONS)


def _activation(name):
    """Return the activation function called ``name``, or raise ConfigError."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown activation {name!r}; choose one of {', '.join(ACTIVATION_NAMES)}"
        ) from None


def _logits(params, X, g):
    """(B, n_0) -> (B, n_K): hidden layers g(x W + b), then a linear layer."""
    x = X
    for W, b in params[:-1]:
        x = g(anp.dot(x, W) + b)
    W, b = params[-1]
    return anp.dot(x, W) + b


def _mean_cross_entropy(params, X, y, g):
    """Mean over the batch of -log softmax(logits)[y], via log-sum-exp."""
    logits = _logits(params, X, g)
    shifted = logits - anp.max(logits, axis=1, keepdims=True)
    log_probs = shifted - anp.log(anp.sum(anp.exp(shifted), axis=1, keepdims=True))
    return -anp.mean(log_probs[np.arange(len(y)), y])


# d(loss)/d(params): autograd differentiates the function above, nothing else.
_loss_and_param_grads = value_and_grad(_mean_cross_entropy, 0)


def forward(params, X, activation="tanh"):
    """Logits of the network.

    Args:
        params: list of K pairs (W (n_k, n_{k+1}), b (n_{k+1},)).
        X: (B, n_0) inputs (cast to the parameters' dtype).
        activation: one of :data:`ACTIVATION_NAMES`.
    Returns:
        (B, n_K) logits, the dtype of the parameters.
    """
    g = _activation(activation)
    return _logits(params, check_input(params, X), g)


def loss_and_grads(params, X, y, activation="tanh"):
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
    params = [(W, b) for W, b in params]
    loss, grads = _loss_and_param_grads(params, X, y, g)
    return float(loss), [(dW, db) for dW, db in grads]
