# mypy: ignore-errors
# (test data: written the way a student writes, without type annotations)
"""Bug (partial): the hidden layer's error computed unit by unit, and the loop
over the units stops one short, so the last hidden unit gets none."""
import numpy as np


def loss_and_grads(params, X, y, activation="tanh"):
    (W1, b1), (W2, b2) = params
    B, H = X.shape[0], W1.shape[1]
    h = np.tanh(X @ W1 + b1)
    s = h @ W2 + b2
    p = np.exp(s - s.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    loss = -np.log(p[range(B), y]).mean()
    d2 = p.copy()
    d2[range(B), y] -= 1
    d2 /= B
    d1 = np.zeros((B, H))
    for j in range(H - 1):
        d1[:, j] = (d2 @ W2[j]) * (1 - h[:, j] ** 2)
    return loss, [(X.T @ d1, d1.sum(0)), (h.T @ d2, d2.sum(0))]
