# mypy: ignore-errors
# (test data: written the way a student writes, without type annotations)
"""Unusable: it fails on any network but the one its author had in mind."""
import numpy as np


def loss_and_grads(params, X, y, activation="tanh"):
    W1 = params[0][0].reshape(784, 100)
    return float(np.sum(W1)), [(np.ones_like(W), np.ones_like(b)) for W, b in params]
