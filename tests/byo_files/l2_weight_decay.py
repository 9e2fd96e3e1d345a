# mypy: ignore-errors
# (test data: written the way a student writes, without type annotations)
"""Correct, with weight decay: the loss adds reg/2 * ||W||^2 for every weight
matrix (not the biases), and the gradient adds reg * W."""
import numpy as np

REG = 5e-3


def loss_and_grads(params, X, y, activation="tanh"):
    B = len(y)
    a, cache = X, []
    for i, (W, b) in enumerate(params):
        z = a @ W + b
        cache.append((a, z))
        a = np.tanh(z) if i < len(params) - 1 else z
    a = a - a.max(axis=1, keepdims=True)
    log_p = a - np.log(np.exp(a).sum(axis=1, keepdims=True))
    data_loss = -log_p[np.arange(B), y].mean()
    reg_loss = 0.5 * REG * sum(np.sum(W ** 2) for W, _ in params)

    d = np.exp(log_p)
    d[np.arange(B), y] -= 1
    d /= B
    grads = []
    for i in reversed(range(len(params))):
        a_in, z = cache[i]
        W = params[i][0]
        grads.insert(0, (a_in.T @ d + REG * W, d.sum(axis=0)))
        if i > 0:
            d = (d @ W.T) * (1 - np.tanh(cache[i - 1][1]) ** 2)
    return data_loss + reg_loss, grads
