# mypy: ignore-errors
# (test data: written the way a student writes, without type annotations)
"""Correct for its own loss: the loss summed over the batch (not averaged),
and its gradient summed to match."""
import numpy as np


def loss_and_grads(params, X, y, activation="tanh"):
    (W1, b1), (W2, b2) = params
    z1 = X @ W1 + b1
    a1 = np.tanh(z1)
    s = a1 @ W2 + b2
    s = s - s.max(axis=1, keepdims=True)
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(len(y)), y]).sum()
    ds = p
    ds[np.arange(len(y)), y] -= 1
    da = ds @ W2.T
    dz = da * (1 - a1 * a1)
    return loss, [(X.T @ dz, dz.sum(0)), (a1.T @ ds, ds.sum(0))]
