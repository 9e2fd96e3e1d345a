# mypy: ignore-errors
# (test data: written the way a student writes, without type annotations)
"""Bug (other): the output error of a squared loss through a softmax,
(p - y) p (1 - p), used with the cross-entropy loss."""
import numpy as np


def loss_and_grads(params, X, y, activation="tanh"):
    (W1, b1), (W2, b2) = params
    B = X.shape[0]
    h = np.tanh(X @ W1 + b1)
    s = h @ W2 + b2
    p = np.exp(s - s.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    t = np.eye(p.shape[1])[y]
    loss = -np.log(p[range(B), y]).mean()
    d2 = (p - t) * p * (1 - p) / B
    d1 = d2 @ W2.T * (1 - h * h)
    return loss, [(X.T @ d1, d1.sum(0)), (h.T @ d2, d2.sum(0))]
