# mypy: ignore-errors
# (test data: written the way a student writes, without type annotations)
"""relu'(z) taken as 1 at z = 0 (z >= 0): right everywhere except exactly at the kink."""
import numpy as np


def loss_and_grads(params, X, y, activation="relu"):
    acts, zs = [X], []
    for k, (W, b) in enumerate(params):
        zs.append(acts[-1] @ W + b)
        acts.append(np.maximum(zs[-1], 0) if k < len(params) - 1 else zs[-1])
    s = acts[-1] - acts[-1].max(1, keepdims=True)
    p = np.exp(s) / np.exp(s).sum(1, keepdims=True)
    B = len(y)
    loss = -np.log(p[np.arange(B), y]).mean()
    d = p.copy()
    d[np.arange(B), y] -= 1
    d /= B
    grads = []
    for k in reversed(range(len(params))):
        grads.append((acts[k].T @ d, d.sum(0)))
        if k:
            d = d @ params[k][0].T * (zs[k - 1] >= 0)
    return loss, grads[::-1]
