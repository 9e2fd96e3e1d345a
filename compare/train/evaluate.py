"""Loss and accuracy of a network on a whole data set, in bounded memory."""

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from compare.train.chunks import chunk_rows as rows_for
from compare.twins import Params

# The most rows per forward pass (fewer for wide networks, see compare.train.chunks).
CHUNK_ROWS = 10_000


def summed_cross_entropy(logits: NDArray, y: NDArray) -> float:
    """Summed softmax cross-entropy of one chunk, via log-sum-exp.

    Args:
        logits: (B, n_classes) floats.
        y: (B,) int labels.
    Returns:
        float, the SUM over the chunk (the caller divides by the total count).
    """
    shift = logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(logits - shift).sum(axis=1)) + shift[:, 0]
    picked = logits[np.arange(len(y)), y]
    return float(np.sum(log_norm - picked))


def evaluate(forward: Callable[..., NDArray], params: Params, X: NDArray, y: NDArray,
             activation: object, chunk_rows: int | None = None) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``params`` on ``(X, y)``.

    Args:
        forward: a twin's ``forward(params, X, activation)`` -> logits.
        params: list of (W, b).
        X: (N, n_in) inputs.  y: (N,) int labels.
        activation: the hidden activation's name.
        chunk_rows: rows per forward pass, to bound memory (None: as many as
            compare.train.chunks allows, at most CHUNK_ROWS).
    Returns:
        (loss, accuracy): floats; accuracy is a fraction in [0, 1].
    """
    if chunk_rows is None:
        chunk_rows = rows_for(params, CHUNK_ROWS)
    total_loss = 0.0
    correct = 0
    for start in range(0, len(y), chunk_rows):
        xs, ys = X[start:start + chunk_rows], y[start:start + chunk_rows]
        logits = np.asarray(forward(params, xs, activation=activation))
        total_loss += summed_cross_entropy(logits, ys)
        correct += int(np.sum(np.argmax(logits, axis=1) == ys))
    return total_loss / len(y), correct / len(y)
