"""The twins as the checks see them: taken from the registry at check time.

Every check calls ``compare.twins.TWINS[name].loss_and_grads`` when it runs,
so a replaced function (a test injecting a bug) is what is checked.
"""

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from compare.twins import TWINS, Params, flat_tensors, get_twin, tensor_names
from manual import activations
from manual.activations import Activation

__all__ = ["TWINS", "GradFn", "Output", "gradients", "is_builtin", "label", "loss_and_grads",
           "tensor_names", "twin_outputs"]

GradFn = Callable[..., tuple[float, Params]]
Output = tuple[float, list[NDArray[np.float64]]]


def label(activation: "str | Activation") -> str:
    """The name an activation goes by in the report."""
    return activation if isinstance(activation, str) else activation.name


def is_builtin(act: Activation) -> bool:
    """True for an activation of the hand-derived registry (not a user's own)."""
    return activations.ACTIVATIONS.get(act.name) is act


def loss_and_grads(twin: str) -> GradFn:
    """The current ``loss_and_grads`` of the registered twin ``twin``."""
    return get_twin(twin).loss_and_grads


def gradients(grad_fn: GradFn, params: Params, X: NDArray, y: NDArray,
              activation: object) -> Output:
    """Call a ``loss_and_grads``; return (loss, [dW1, db1, ...]) as float64 copies.

    Copies: a twin may hand back buffers that its next call overwrites.
    """
    loss, grads = grad_fn(params, X, y, activation)
    return float(loss), [np.array(g, dtype=np.float64) for g in flat_tensors(grads)]


def twin_outputs(params: Params, X: NDArray, y: NDArray, activation: object,
                 twins: Sequence[str] | None = None) -> dict[str, Output]:
    """Each twin's loss and gradients at one point: {name: (loss, tensors)}."""
    names = tuple(TWINS) if twins is None else tuple(twins)
    return {name: gradients(loss_and_grads(name), params, X, y, activation) for name in names}
