# mypy: ignore-errors
# (test data: written the way a student writes, without type annotations)
"""Bug (swap): each layer's pair returned as (db, dW) instead of (dW, db)."""
import numpy as np


def loss_and_grads(params, X, y, activation="tanh"):
    (W1, b1), (W2, b2) = params
    B = X.shape[0]
    h = np.tanh(X @ W1 + b1)
    s = h @ W2 + b2
    p = np.exp(s - s.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    loss = -np.log(p[range(B), y]).mean()
    d2 = p.copy()
    d2[range(B), y] -= 1
    d2 /= B
    d1 = d2 @ W2.T * (1 - h * h)
    return loss, [(d1.sum(0), X.T @ d1), (d2.sum(0), h.T @ d2)]
