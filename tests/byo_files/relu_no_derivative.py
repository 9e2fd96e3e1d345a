# mypy: ignore-errors
# (test data: written the way a student writes, without type annotations)
"""Bug (activation derivative): relu's derivative left out of the backward pass."""
import numpy as np


def loss_and_grads(params, X, y, activation="relu"):
    (W1, b1), (W2, b2) = params
    B = X.shape[0]
    a1 = np.maximum(X @ W1 + b1, 0)
    s = a1 @ W2 + b2
    p = np.exp(s - s.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    loss = -np.log(p[range(B), y]).mean()
    d2 = p.copy()
    d2[range(B), y] -= 1
    d2 /= B
    d1 = d2 @ W2.T
    return loss, [(X.T @ d1, d1.sum(0)), (a1.T @ d2, d2.sum(0))]
