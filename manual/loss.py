"""Softmax cross-entropy: the loss and its hand-derived gradient, kept together.

With logits ``s`` (B, C) and integer labels ``y`` (B,), the paper's loss
``L = -sum y log softmax(s)`` averaged over the batch is

    L = -(1/B) * sum_i log softmax(s_i)[y_i],
    log softmax(s_i) = s_i - logsumexp(s_i),

and its gradient (the paper's ``L' = softmax(s) - y``, divided by the batch
size as the paper does) is

    dL/ds = (softmax(s) - onehot(y)) / B.

``logsumexp`` subtracts each row's maximum before exponentiating, so no
logit, however large, overflows.
"""

import numpy as np
from numpy.typing import NDArray


def log_softmax(logits: NDArray) -> NDArray:
    """Row-wise log softmax via log-sum-exp.

    Args:
        logits: (B, C).
    Returns:
        (B, C), same dtype; every entry <= 0.
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


class SoftmaxCrossEntropy:
    """Mean softmax cross-entropy as an ``fn`` / ``delta`` pair (after Nielsen's cost classes)."""

    @staticmethod
    def fn(logits: NDArray, y: NDArray) -> float:
        """Mean cross-entropy.

        Args:
            logits: (B, C) floats.
            y: (B,) integer labels in [0, C).
        Returns:
            float, the loss L.
        """
        return _fn_from_log_probs(log_softmax(logits), y)

    @staticmethod
    def delta(logits: NDArray, y: NDArray) -> NDArray:
        """dL/dlogits = (softmax - onehot) / B.

        Args:
            logits: (B, C); y: (B,) as in :meth:`fn`.
        Returns:
            (B, C), the dtype of ``logits``.
        """
        return _delta_from_log_probs(log_softmax(logits), y)

    @staticmethod
    def fn_and_delta(logits: NDArray, y: NDArray) -> tuple[float, NDArray]:
        """Both :meth:`fn` and :meth:`delta` from one log-softmax.

        Returns:
            (float loss, (B, C) gradient).
        """
        log_probs = log_softmax(logits)
        return _fn_from_log_probs(log_probs, y), _delta_from_log_probs(log_probs, y)


def _fn_from_log_probs(log_probs: NDArray, y: NDArray) -> float:
    """-(1/B) sum_i log_probs[i, y_i]; log_probs (B, C), y (B,) -> scalar."""
    return float(-log_probs[np.arange(len(y)), y].mean())


def _delta_from_log_probs(log_probs: NDArray, y: NDArray) -> NDArray:
    """(softmax - onehot) / B; log_probs (B, C), y (B,) -> (B, C)."""
    batch = len(y)
    grad = np.exp(log_probs)
    grad[np.arange(batch), y] -= 1
    grad /= batch
    return grad
