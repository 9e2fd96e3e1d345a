"""Figure 7's numbers: which digits a trained network mixes up."""

import numpy as np
from numpy.typing import NDArray

from compare.twins import Params, get_twin

CHUNK_ROWS = 10_000  # rows per forward pass, to bound memory


def predict(twin: str, params: Params, X: NDArray[np.floating],
            activation: str) -> NDArray[np.int64]:
    """Predicted classes of ``X`` by ``twin``'s own forward pass.

    Args:
        twin: name of a registered twin (compare.twins.TWINS).
        params: [(W, b), ...].
        X: (N, n_in) inputs.
        activation: the hidden activation's name.
    Returns:
        int64 array (N,): the argmax of the logits.
    """
    module = get_twin(twin)
    chunks = [np.argmax(np.asarray(module.forward(params, X[i:i + CHUNK_ROWS],
                                                  activation=activation)), axis=1)
              for i in range(0, len(X), CHUNK_ROWS)]
    return np.concatenate(chunks).astype(np.int64)


def confusion_matrix(y_true: NDArray[np.integer], y_pred: NDArray[np.integer],
                     n_classes: int) -> NDArray[np.int64]:
    """Counts (n_classes, n_classes): row = true class, column = predicted class."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def confused_pairs(matrix: NDArray[np.integer]) -> list[tuple[int, int, int]]:
    """Unordered class pairs by how often they are mixed up, most first.

    Returns:
        (a, b, count) with a < b and count = matrix[a, b] + matrix[b, a];
        ties keep the order (a, b) ascending, so the list is deterministic.
    """
    n = matrix.shape[0]
    pairs = [(a, b, int(matrix[a, b] + matrix[b, a])) for a in range(n) for b in range(a + 1, n)]
    return sorted(pairs, key=lambda p: -p[2])


def pair_rank(pairs: list[tuple[int, int, int]], a: int, b: int) -> int:
    """1-based rank of the pair {a, b} in ``confused_pairs`` output."""
    a, b = min(a, b), max(a, b)
    for rank, (x, y, _) in enumerate(pairs, 1):
        if (x, y) == (a, b):
            return rank
    raise ValueError(f"no pair {a}/{b}")


def misclassified(y_true: NDArray[np.integer], y_pred: NDArray[np.integer],
                  limit: int) -> NDArray[np.intp]:
    """Indices (at most ``limit``) of wrongly classified samples, in data order."""
    return np.flatnonzero(y_true != y_pred)[:limit]
