"""One SGD step of any twin: its ``loss_and_grads``, then p <- p - lr * grad.

The trainer and the benchmark both step through :class:`SGD`, so what is
timed is what trains, and what trains is the twin's ``loss_and_grads``: the
function every gradient check runs. The twin is asked for its function at
every step, so a replaced ``loss_and_grads`` is what trains.
"""

import numpy as np
from numpy.typing import NDArray

from compare.twins import Params, Twin


class SGD:
    """Plain minibatch SGD of one twin.

    ``lr * grad`` goes into buffers kept from step to step: a fresh
    weight-sized temporary each step would be paged in anew every time.
    """

    def __init__(self, twin: Twin, activation: object) -> None:
        self.twin = twin
        self.activation = activation
        self._scaled: list[NDArray] = []

    def step(self, params: Params, X: NDArray, y: NDArray, lr: float) -> float:
        """Update ``params`` in place by one step on the batch (X (B, n_0), y (B,)).

        Returns:
            the batch's mean loss before the update.
        """
        loss, grads = self.twin.loss_and_grads(params, X, y, activation=self.activation)
        self.update(params, grads, lr)
        return float(loss)

    def update(self, params: Params, grads: Params, lr: float) -> None:
        """p <- p - lr * g for every array of ``params`` and its gradient."""
        arrays = [a for pair in params for a in pair]
        if len(self._scaled) != len(arrays) or any(
                s.shape != a.shape or s.dtype != a.dtype for s, a in zip(self._scaled, arrays)):
            self._scaled = [np.empty_like(a) for a in arrays]
        for a, grad, scaled in zip(arrays, (g for pair in grads for g in pair), self._scaled):
            np.multiply(grad, lr, out=scaled)
            np.subtract(a, scaled, out=a)
