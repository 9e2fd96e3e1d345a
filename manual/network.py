"""The hand-derived network: forward pass, backward pass, loss and gradients.

Parameters are a list of K pairs ``(W_k, b_k)``, ``W_k`` (n_k, n_{k+1}),
``b_k`` (n_{k+1},). Layers 0..K-2 are hidden (affine, then the activation
g); layer K-1 is the linear output layer, followed by softmax cross-entropy.

The backward pass is the paper's, with k running down from K-1 to 0:

    dA_K = L'(y_hat, y)              (the loss gradient at the logits)
    dz_k = dA_{k+1} * g'(z_k)        (g' = 1 for the linear output layer)
    dW_k = x_k^T dz_k
    db_k = sum over the batch of dz_k
    dA_k = dz_k W_k^T                (the gradient at layer k's input x_k)

where ``x_k`` is layer k's input (``x_0 = X``, ``x_{k+1} = g(z_k)``).

Dtype: X is cast to the parameters' dtype, and every array stays in it
(float32 parameters give float32 logits and gradients).
"""

from numpy.typing import NDArray

from compare.common.validate import check_input, check_labels
from manual.activations import Activation, get_activation
from manual.layers import (
    AffineCache,
    activation_backward,
    activation_forward,
    affine_backward,
    affine_forward,
)
from manual.loss import SoftmaxCrossEntropy

Params = list[tuple[NDArray, NDArray]]
# per layer: (affine cache, activation cache, or None for the linear output layer)
Cache = list[tuple[AffineCache, NDArray | None]]


def forward_cache(params: Params, X: NDArray,
                  activation: str | Activation = "tanh") -> tuple[NDArray, Cache]:
    """Forward pass that keeps what the backward pass needs.

    Args:
        params: list of K pairs (W (n_k, n_{k+1}), b (n_{k+1},)).
        X: (B, n_0) inputs.
        activation: name of the hidden activation (see manual.ACTIVATIONS).
    Returns:
        logits: (B, n_K), the dtype of the parameters.
        cache: list of K pairs (affine cache, activation cache or None for
            the output layer), for :func:`backward`.
    """
    act = get_activation(activation)
    x = check_input(params, X)
    cache: Cache = []
    last = len(params) - 1
    for k, (W, b) in enumerate(params):
        z, affine_cache = affine_forward(x, W, b)          # z_k = x_k W_k + b_k
        if k == last:
            cache.append((affine_cache, None))              # output layer: linear
            return z, cache
        x, act_cache = activation_forward(z, act)           # x_{k+1} = g(z_k)
        cache.append((affine_cache, act_cache))
    raise AssertionError("unreachable: the output layer returns")


def forward(params: Params, X: NDArray, activation: str | Activation = "tanh") -> NDArray:
    """Logits of the network.

    Args:
        params: list of K pairs (W, b); X: (B, n_0); activation: a name.
    Returns:
        (B, n_K) logits, the dtype of the parameters.
    """
    logits, _ = forward_cache(params, X, activation)
    return logits


def backward(params: Params, cache: Cache, dlogits: NDArray,
             activation: str | Activation = "tanh") -> Params:
    """Back-propagate an upstream gradient through the network.

    Args:
        params: the parameters :func:`forward_cache` ran with.
        cache: its cache.
        dlogits: (B, n_K), dA_K = dL/dlogits (any upstream gradient).
        activation: the same activation name as the forward pass.
    Returns:
        list of K pairs (dW_k (n_k, n_{k+1}), db_k (n_{k+1},)), shaped like params.
    """
    act = get_activation(activation)
    grads: list[tuple[NDArray, NDArray]] = []
    dA = dlogits                                             # dA_K = L'(y_hat, y)
    for k in reversed(range(len(params))):
        affine_cache, act_cache = cache[k]
        if act_cache is None:
            dz = dA                                          # dz_{K-1} = dA_K (g' = 1)
        else:
            dz = activation_backward(dA, act_cache, act)     # dz_k = dA_{k+1} g'(z_k)
        # dW_k = x_k^T dz_k, db_k = sum dz_k, dA_k = dz_k W_k^T (skipped for
        # k = 0: the gradient at the data is never needed)
        dx, dW, db = affine_backward(dz, affine_cache, need_dx=k > 0)
        grads.append((dW, db))
        if dx is not None:
            dA = dx
    return grads[::-1]


def loss_and_grads(params: Params, X: NDArray, y: NDArray,
                   activation: str | Activation = "tanh") -> tuple[float, Params]:
    """Mean softmax cross-entropy and its gradient for every parameter.

    Args:
        params: list of K pairs (W (n_k, n_{k+1}), b (n_{k+1},)).
        X: (B, n_0) inputs.
        y: (B,) integer labels in [0, n_K), any integer dtype.
        activation: name of the hidden activation.
    Returns:
        loss: float.
        grads: list of K pairs (dW_k, db_k), shaped and typed like params.
    """
    logits, cache = forward_cache(params, X, activation)
    y = check_labels(y, *logits.shape)
    loss, dlogits = SoftmaxCrossEntropy.fn_and_delta(logits, y)   # L and dA_K
    return loss, backward(params, cache, dlogits, activation)
