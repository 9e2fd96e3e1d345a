# mypy: ignore-errors
# (test data: written the way a student writes, without type annotations)
"""Unusable: returns the gradients alone, not (loss, grads)."""
import numpy as np


def loss_and_grads(params, X, y, activation="tanh"):
    return [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
