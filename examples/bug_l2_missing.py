"""A classic bug: an L2 penalty added to the loss, but its gradient lam * W
left out of dW.

Check it with:
    twinprop gradcheck --twin examples/bug_l2_missing.py
"""

import numpy as np
from numpy.typing import NDArray

Params = list[tuple[NDArray, NDArray]]


def act(z: NDArray, activation: str) -> NDArray:
    if activation == "tanh":
        return np.tanh(z)
    if activation == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if activation == "relu":
        return np.maximum(z, 0.0)
    raise ValueError(f"unsupported activation {activation}")


def act_prime(z: NDArray, activation: str) -> NDArray:
    if activation == "tanh":
        return 1.0 - np.tanh(z) ** 2
    if activation == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-z))
        return s * (1.0 - s)
    if activation == "relu":
        return (z > 0).astype(z.dtype)
    raise ValueError(f"unsupported activation {activation}")


def loss_and_grads(params: Params, X: NDArray, y: NDArray,
                   activation: str = "tanh") -> tuple[float, Params]:
    """Mean softmax cross-entropy of an MLP and its gradient.

    params: [(W (n_in, n_out), b (n_out,)), ...]; X (B, n_0); y (B,) labels.
    """
    B = X.shape[0]
    # forward: keep every layer's input a and pre-activation z
    a = X
    zs: list[NDArray] = []
    inputs: list[NDArray] = []
    for k, (W, b) in enumerate(params):
        inputs.append(a)
        z = a @ W + b
        zs.append(z)
        a = act(z, activation) if k < len(params) - 1 else z
    logits = a
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=1, keepdims=True)
    loss = float(-np.mean(np.log(probs[np.arange(B), y])))
    lam = 1e-3
    loss += 0.5 * lam * sum(float(np.sum(W * W)) for W, _ in params)

    # backward: delta = dL/dz, layer by layer from the top
    delta = probs.copy()
    delta[np.arange(B), y] -= 1.0
    delta /= B
    grads: Params = []
    for k in range(len(params) - 1, -1, -1):
        W, _ = params[k]
        dW = inputs[k].T @ delta
        db = delta.sum(axis=0)
        grads.insert(0, (dW, db))
        if k > 0:
            delta = (delta @ W.T) * act_prime(zs[k - 1], activation)
    return loss, grads
