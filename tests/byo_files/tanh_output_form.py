# mypy: ignore-errors
# (test data: written the way a student writes, without type annotations)
"""Bug (activation derivative): tanh' written as 1 - a**2 for the activation a,
but fed the pre-activation z."""
import numpy as np


def loss_and_grads(params, X, y, activation="tanh"):
    (W1, b1), (W2, b2) = params
    B = X.shape[0]
    z1 = X @ W1 + b1
    a1 = np.tanh(z1)
    s = a1 @ W2 + b2
    p = np.exp(s - s.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    loss = -np.log(p[range(B), y]).mean()
    d2 = p.copy()
    d2[range(B), y] -= 1
    d2 /= B
    d1 = d2 @ W2.T * (1 - z1 ** 2)
    return loss, [(X.T @ d1, d1.sum(0)), (a1.T @ d2, d2.sum(0))]
