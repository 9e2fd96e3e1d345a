# mypy: ignore-errors
# (test data: written the way a student writes, without type annotations)
"""An L1 penalty with its right gradient: a correct function whose loss the check
cannot fit (so it is differentiated as a black box) and which has kinks of its
own (|W| at 0), where large steps cross them."""
import numpy as np

LAM = 1e-3


def loss_and_grads(params, X, y, activation="tanh"):
    (W1, b1), (W2, b2) = params
    B = X.shape[0]
    h = np.tanh(X @ W1 + b1)
    s = h @ W2 + b2
    p = np.exp(s - s.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    loss = -np.log(p[range(B), y]).mean() + LAM * (np.abs(W1).sum() + np.abs(W2).sum())
    d2 = p.copy()
    d2[range(B), y] -= 1
    d2 /= B
    d1 = d2 @ W2.T * (1 - h * h)
    return loss, [(X.T @ d1 + LAM * np.sign(W1), d1.sum(0)),
                  (h.T @ d2 + LAM * np.sign(W2), d2.sum(0))]
