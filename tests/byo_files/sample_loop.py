# mypy: ignore-errors
# (test data: written the way a student writes, without type annotations)
"""Correct, one sample at a time: the way the backprop equations are written
on paper, with vectors and outer products, summed over the batch.
Returns a flat list [dW1, db1, dW2, db2, ...]."""
import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def loss_and_grads(params, X, y, activation="sigmoid"):
    f = {"sigmoid": sigmoid, "tanh": np.tanh}[activation]
    grads = [np.zeros_like(p) for layer in params for p in layer]
    total = 0.0
    for x, label in zip(X, y):
        zs, acts = [], [x]
        for W, b in params:
            z = acts[-1] @ W + b
            zs.append(z)
            acts.append(f(z))
        out = zs[-1] - np.max(zs[-1])
        p = np.exp(out) / np.sum(np.exp(out))
        total += -np.log(p[label])
        delta = p.copy()
        delta[label] -= 1
        for L in reversed(range(len(params))):
            grads[2 * L] += np.outer(acts[L], delta)
            grads[2 * L + 1] += delta
            if L > 0:
                a = acts[L]
                fprime = a * (1 - a) if activation == "sigmoid" else 1 - a ** 2
                delta = (params[L][0] @ delta) * fprime
    n = len(X)
    return total / n, [g / n for g in grads]
