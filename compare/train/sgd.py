"""One SGD step of any twin: its ``loss_and_grads``, then p <- p - lr * grad.

The trainer and the benchmark both step through :class:`SGD`, so what is
timed is what trains, and what trains is the twin's ``loss_and_grads``: the
function every gradient check runs. The twin is asked for its function at
every step, so a replaced ``loss_and_grads`` is what trains.

A batch of more rows than a chunk (the whole training set, with
``--batch-size full``; fewer rows for a very wide network, see
:mod:`compare.train.chunks`) is stepped in row chunks: the gradient of the
mean loss over N rows is the row-count-weighted mean of the chunks'
gradients, so the twin never sees more than a chunk at once and its memory
(the buffered twin's workspace, autograd's tape) stays bounded whatever the
batch.
"""

import numpy as np
from numpy.typing import NDArray

from compare.train.chunks import chunk_rows as rows_for
from compare.twins import Params, Twin

# The most rows a twin is handed at once.
CHUNK_ROWS = 10_000


class SGD:
    """Plain minibatch SGD of one twin.

    ``lr * grad``, the gathered rows and a chunked batch's gradient sum go
    into buffers kept from step to step: a fresh weight-sized temporary each
    step would be paged in anew every time.
    """

    def __init__(self, twin: Twin, activation: str, chunk_rows: int | None = None) -> None:
        """``chunk_rows``: rows per chunk; None for what compare.train.chunks allows
        the network, at most CHUNK_ROWS."""
        self.twin = twin
        self.activation = activation
        self.chunk_rows = chunk_rows
        self._scaled: list[NDArray] = []
        self._summed: list[NDArray] = []
        self._gathered: NDArray | None = None

    def step(self, params: Params, X: NDArray, y: NDArray, lr: float,
             rows: NDArray | None = None) -> float:
        """Update ``params`` in place by one step on a batch.

        Args:
            params: K pairs (W (n_k, n_{k+1}), b (n_{k+1},)), updated in place.
            X: (N, n_0) inputs; y: (N,) integer labels.
            lr: the learning rate.
            rows: (B,) indices into X and y: the batch is those rows, in that
                order (gathered chunk by chunk, never all at once); None for
                all of X and y.
        Returns:
            the batch's mean loss before the update.
        """
        n = len(y) if rows is None else len(rows)
        # One row is one chunk whatever the network: skip sizing it (batch-1
        # steps are short enough for that to show).
        chunk = n if n == 1 else self.chunk_rows or rows_for(params, CHUNK_ROWS)
        if n <= chunk:
            loss, grads = self.twin.loss_and_grads(params, *self._chunk(X, y, rows, 0, n),
                                                   activation=self.activation)
            self.update(params, grads, lr)
            return float(loss)
        total = 0.0
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            loss, grads = self.twin.loss_and_grads(params, *self._chunk(X, y, rows, start, stop),
                                                   activation=self.activation)
            # The mean over N rows is sum_c (n_c / N) * (mean over chunk c).
            weight = (stop - start) / n
            total += weight * float(loss)
            self._accumulate(grads, weight, first=start == 0)
        self.update(params, self._pairs(params, self._summed), lr)
        return total

    def _chunk(self, X: NDArray, y: NDArray, rows: NDArray | None,
               start: int, stop: int) -> tuple[NDArray, NDArray]:
        """Rows ``start:stop`` of the batch: views of X and y, or gathered by ``rows``."""
        if rows is None:
            return (X, y) if stop - start == len(y) else (X[start:stop], y[start:stop])
        idx = rows[start:stop]
        if (self._gathered is None or len(self._gathered) < len(idx)
                or self._gathered.shape[1:] != X.shape[1:] or self._gathered.dtype != X.dtype):
            self._gathered = np.empty((len(idx), *X.shape[1:]), X.dtype)
        # mode="wrap" lets take write straight into the buffer (mode="raise"
        # copies through a temporary) and reads a negative row as y[idx] does;
        # a row out of range still raises, at y[idx].
        gathered = np.take(X, idx, axis=0, out=self._gathered[:len(idx)], mode="wrap")
        return gathered, y[idx]

    def _accumulate(self, grads: Params, weight: float, first: bool) -> None:
        """summed <- (summed if not first) + weight * grads, in place."""
        flat = [g for pair in grads for g in pair]
        self._summed = _buffers_like(self._summed, flat)
        self._scaled = _buffers_like(self._scaled, flat)
        for g, summed, scaled in zip(flat, self._summed, self._scaled):
            if first:
                np.multiply(g, weight, out=summed)
            else:
                np.multiply(g, weight, out=scaled)
                np.add(summed, scaled, out=summed)

    @staticmethod
    def _pairs(params: Params, flat: list[NDArray]) -> Params:
        """``flat`` [dW_1, db_1, ...] as pairs shaped like ``params``."""
        return [(flat[2 * k], flat[2 * k + 1]) for k in range(len(params))]

    def update(self, params: Params, grads: Params, lr: float) -> None:
        """p <- p - lr * g for every array of ``params`` and its gradient."""
        arrays = [a for pair in params for a in pair]
        self._scaled = _buffers_like(self._scaled, arrays)
        for a, grad, scaled in zip(arrays, (g for pair in grads for g in pair), self._scaled):
            np.multiply(grad, lr, out=scaled)
            np.subtract(a, scaled, out=a)


def _buffers_like(buffers: list[NDArray], arrays: list[NDArray]) -> list[NDArray]:
    """``buffers`` if they match ``arrays`` in number, shapes and dtypes, else new ones."""
    if len(buffers) != len(arrays) or any(
            b.shape != a.shape or b.dtype != a.dtype for b, a in zip(buffers, arrays)):
        return [np.empty_like(a) for a in arrays]
    return buffers
