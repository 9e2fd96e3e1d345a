"""The hand-derived twin: plain numpy backpropagation (never imports autograd).

Interface (the same as ``autodiff``)::

    params = init_params([784, 100, 10], init="xavier", seed=0)
    logits = forward(params, X, activation="tanh")                # (B, 10)
    loss, grads = loss_and_grads(params, X, y, activation="tanh")

plus ``forward_cache`` / ``backward`` for feeding arbitrary upstream gradients,
the activation registry ``ACTIVATIONS``, and ``Workspace``: the same SGD step
through preallocated buffers, which the trainer uses for speed.
"""

from compare.common.init import INITS, init_params
from manual.activations import ACTIVATIONS, Activation, get_activation
from manual.loss import SoftmaxCrossEntropy, log_softmax
from manual.network import backward, forward, forward_cache, loss_and_grads
from manual.workspace import Workspace

__all__ = [
    "ACTIVATIONS", "Activation", "INITS", "SoftmaxCrossEntropy", "backward",
    "forward", "forward_cache", "get_activation", "init_params",
    "log_softmax", "loss_and_grads", "Workspace",
]
