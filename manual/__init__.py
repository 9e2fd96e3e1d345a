"""The hand-derived twin: plain numpy backpropagation (never imports autograd).

Interface (``compare.twins.Twin``, the same as ``autodiff``'s)::

    params = init_params([784, 100, 10], init="xavier", seed=0)
    logits = forward(params, X, activation="tanh")                # (B, 10)
    loss, grads = loss_and_grads(params, X, y, activation="tanh")

plus ``forward_cache`` / ``backward`` for feeding arbitrary upstream gradients
and the activation registry ``ACTIVATIONS`` (each activation beside its
derivative). ``manual.buffered`` is a second twin: the same equations and
derivatives through preallocated buffers.
"""

from compare.common.init import INITS, init_params
from manual.activations import ACTIVATION_NAMES, ACTIVATIONS, Activation, get_activation
from manual.loss import SoftmaxCrossEntropy, log_softmax
from manual.network import backward, forward, forward_cache, loss_and_grads

__all__ = [
    "ACTIVATIONS", "ACTIVATION_NAMES", "Activation", "INITS", "SoftmaxCrossEntropy",
    "backward", "forward", "forward_cache", "get_activation", "init_params",
    "log_softmax", "loss_and_grads",
]
