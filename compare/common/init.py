"""Seeded weight initialisation, shared by both twins.

Drawing numbers is not differentiation, so one definition serves the manual
twin, the autograd twin and the trainer; in lockstep both twins start from the
very same arrays.

Every scheme draws ``W ~ N(0, std**2)`` and sets ``b = 0``:

========  ==========================  =========================================
name      std                         why
========  ==========================  =========================================
normal    1                           the paper's choice ("mean 0, variance 1")
xavier    sqrt(2 / (n_in + n_out))    Glorot & Bengio 2010, the *normal* variant
he        sqrt(2 / n_in)              He et al. 2015, for relu-like units
lecun     sqrt(1 / n_in)              LeCun et al. 1998, "Efficient BackProp"
========  ==========================  =========================================
"""

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from compare.common.dtypes import check_dtype
from compare.common.errors import ConfigError

INITS = ("normal", "xavier", "he", "lecun")

_STD = {
    "normal": lambda n_in, n_out: 1.0,
    "xavier": lambda n_in, n_out: np.sqrt(2.0 / (n_in + n_out)),
    "he": lambda n_in, n_out: np.sqrt(2.0 / n_in),
    "lecun": lambda n_in, n_out: np.sqrt(1.0 / n_in),
}


def init_std(init: str, n_in: int, n_out: int) -> float:
    """Return the standard deviation scheme ``init`` uses for an (n_in, n_out) layer."""
    if init not in _STD:
        raise ConfigError(
            f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    return float(_STD[init](n_in, n_out))



def init_params(sizes: Sequence[int], init: str = "xavier", seed: int = 0,
                dtype: object = "float64") -> list[tuple[NDArray, NDArray]]:
    """Draw the parameters of a feed-forward network.

    Args:
        sizes: layer widths ``[n_0, n_1, ..., n_K]`` (at least two positive
            integers), e.g. ``[784, 100, 10]``.
        init: one of :data:`INITS`.
        seed: seed of a fresh ``numpy.random.default_rng``; same seed, same
            parameters.
        dtype: ``"float32"`` or ``"float64"``.
    Returns:
        list of K pairs ``(W, b)``: ``W`` (n_{k}, n_{k+1}), ``b`` (n_{k+1},),
        both of ``dtype``. Biases are zero.
    """
    sizes = _check_sizes(sizes)
    dtype = check_dtype(dtype)
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        std = init_std(init, n_in, n_out)
        # Draw in float64 and round once, so float32 parameters are exactly
        # the float64 ones rounded: runs in both precisions start alike.
        W = (std * rng.standard_normal((n_in, n_out))).astype(dtype)
        b = np.zeros(n_out, dtype=dtype)
        params.append((W, b))
    return params


def _check_sizes(sizes: Sequence[int]) -> list[int]:
    """Return ``sizes`` as a list of ints, or raise ConfigError."""
    try:
        sizes = [int(n) for n in sizes]
    except (TypeError, ValueError):
        raise ConfigError(
            f"layer sizes {sizes!r} are not whole numbers; give e.g. [784, 100, 10]"
        ) from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise ConfigError(
            f"layer sizes {sizes} need at least two positive widths, e.g. [784, 100, 10]")
    return sizes
