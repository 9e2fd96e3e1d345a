"""The twins as the checks see them: looked up at call time, by module name.

``manual.loss_and_grads`` is fetched from the module each time it is needed,
so a test (or a user) that replaces it is checking the replacement.
"""

import importlib

import numpy as np

TWINS = ("manual", "autodiff")


def loss_and_grads(twin):
    """The current ``loss_and_grads`` of module ``twin`` ("manual" or "autodiff")."""
    return getattr(importlib.import_module(twin), "loss_and_grads")


def tensor_names(params):
    """["W1", "b1", "W2", "b2", ...] for a list of (W, b) pairs."""
    return [f"{kind}{k + 1}" for k in range(len(params)) for kind in ("W", "b")]


def flat_tensors(pairs):
    """[W1, b1, W2, b2, ...] from a list of (W, b) pairs."""
    return [t for pair in pairs for t in pair]


def gradients(grad_fn, params, X, y, activation):
    """Call a twin's loss_and_grads; return (loss, [dW1, db1, ...]) as float64 arrays."""
    loss, grads = grad_fn(params, X, y, activation)
    return float(loss), [np.asarray(g, dtype=np.float64) for g in flat_tensors(grads)]
