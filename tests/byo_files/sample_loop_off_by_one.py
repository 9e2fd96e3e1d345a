# mypy: ignore-errors
# (test data: written the way a student writes, without type annotations)
"""Bug (partial): the loop over the batch stops one sample short."""
import numpy as np


def loss_and_grads(params, X, y, activation="tanh"):
    (W1, b1), (W2, b2) = params
    n = len(X)
    dW1, db1 = np.zeros_like(W1), np.zeros_like(b1)
    dW2, db2 = np.zeros_like(W2), np.zeros_like(b2)
    loss = 0.0
    for i in range(n):
        h = np.tanh(X[i] @ W1 + b1)
        s = h @ W2 + b2
        p = np.exp(s - s.max())
        p /= p.sum()
        loss += -np.log(p[y[i]]) / n
    for i in range(n - 1):
        h = np.tanh(X[i] @ W1 + b1)
        s = h @ W2 + b2
        p = np.exp(s - s.max())
        p /= p.sum()
        p[y[i]] -= 1
        dW2 += np.outer(h, p) / n
        db2 += p / n
        dh = (W2 @ p) * (1 - h ** 2)
        dW1 += np.outer(X[i], dh) / n
        db1 += dh / n
    return loss, [(dW1, db1), (dW2, db2)]
