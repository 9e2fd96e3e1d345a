"""The autograd twin: its own forward pass; every gradient from autograd.

Same interface as ``manual`` (the twins never import each other)::

    params = init_params([784, 100, 10], init="xavier", seed=0)
    logits = forward(params, X, activation="tanh")                # (B, 10)
    loss, grads = loss_and_grads(params, X, y, activation="tanh")
"""

from autodiff.network import ACTIVATION_NAMES, ACTIVATIONS, forward, loss_and_grads
from compare.common.init import INITS, init_params

__all__ = ["ACTIVATION_NAMES", "ACTIVATIONS", "INITS", "forward", "init_params", "loss_and_grads"]
