# mypy: ignore-errors
# (test data: written the way a student writes, without type annotations)
"""Bug (sign): the output error taken as y - p instead of p - y."""
import numpy as np


def loss_and_grads(params, X, y, activation="tanh"):
    (W1, b1), (W2, b2) = params
    B = X.shape[0]
    h = np.tanh(X @ W1 + b1)
    s = h @ W2 + b2
    p = np.exp(s - s.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    onehot = np.eye(W2.shape[1])[y]
    loss = -np.mean(np.sum(onehot * np.log(p), axis=1))
    delta2 = (onehot - p) / B
    delta1 = (delta2 @ W2.T) * (1 - h ** 2)
    return loss, [(X.T @ delta1, delta1.sum(0)), (h.T @ delta2, delta2.sum(0))]
