"""The autograd twin: its own forward pass; every gradient from autograd.

Interface (``compare.twins.Twin``, the same as ``manual``'s; the twins never
import each other)::

    params = init_params([784, 100, 10], init="xavier", seed=0)
    logits = forward(params, X, activation="tanh")                # (B, 10)
    loss, grads = loss_and_grads(params, X, y, activation="tanh")

``loss`` is the function autograd differentiates; ``ACTIVATION_FUNCTIONS``
maps each name to its ``autograd.numpy`` function,
for studies that differentiate an activation on its own.
"""

from autodiff.network import (
    ACTIVATION_FUNCTIONS,
    ACTIVATION_NAMES,
    forward,
    loss,
    loss_and_grads,
)
from compare.common.init import INITS, init_params

__all__ = ["ACTIVATION_FUNCTIONS", "ACTIVATION_NAMES", "INITS", "forward", "init_params",
           "loss", "loss_and_grads"]
