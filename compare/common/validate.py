"""Checks of what callers hand a network, shared by both twins.

Validation is not differentiation: sharing it keeps the twins' error messages
identical without giving either twin any of the other's arithmetic.
"""

import numpy as np
from numpy.typing import NDArray

from compare.common.errors import ConfigError, DataError


def check_input(params: list[tuple[NDArray, NDArray]], X: object) -> NDArray:
    """Return X as (B, n_0) in the parameters' dtype, or raise ConfigError.

    Args:
        params: list of K pairs (W (n_k, n_{k+1}), b (n_{k+1},)).
        X: array-like (B, n_0).
    Returns:
        ndarray (B, n_0) of W_0's dtype (no copy when it already is).
    """
    if len(params) == 0:
        raise ConfigError("the network has no layers; "
                          "build params with init_params([784, 100, 10])")
    W0 = params[0][0]
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != W0.shape[0]:
        raise ConfigError(
            f"input of shape {X.shape} does not fit a first layer of {W0.shape[0]} inputs; "
            f"give X as (batch, {W0.shape[0]}) or build params for {X.shape[-1]} inputs")
    return X.astype(W0.dtype, copy=False)


def check_labels(y: object, batch: int, n_classes: int) -> NDArray:
    """Return y as a (batch,) integer array in [0, n_classes), or raise DataError.

    Args:
        y: array-like of class indices, any integer dtype.
        batch: number of input rows B.
        n_classes: width of the output layer.
    Returns:
        ndarray (B,) of y's integer dtype.
    """
    y = np.asarray(y)
    if y.shape != (batch,) or y.dtype.kind not in "iu":
        raise DataError(
            f"labels must be {batch} integers, got shape {y.shape} dtype {y.dtype}; "
            "pass integer class indices, one per input row")
    # one sample (SGD at batch 1) is checked in Python: two numpy reductions
    # would cost more than the step's arithmetic on the labels
    low, high = (int(y[0]),) * 2 if batch == 1 else (y.min(), y.max()) if batch else (0, 0)
    if low < 0 or high >= n_classes:
        raise DataError(
            f"labels must lie in [0, {n_classes}), got [{low}, {high}]; "
            "check the labels or the output layer width")
    return y
