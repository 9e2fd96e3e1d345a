"""How close is close enough: every threshold the checks use, in one place.

A finite difference D(h) of a smooth function has two errors: truncation
(about c h^2 for central differences) and rounding (about eps |L| / h). The
pass rule estimates the first from the data and bounds the second from the
dtype, per element, instead of one atol/rtol for everything:

    |analytic - numeric| <= SAFETY * estimated_error + floor,

    numeric         = (4 D(h/2) - D(h)) / 3         (Richardson extrapolation)
    estimated_error = |D(h) - D(h/2)| / 3           (truncation error of D(h/2),
                                                      which bounds that of numeric)
    floor           = FLOOR_ULPS * eps * max(|L|, 1) / h

The floor is the rounding a loss of size |L| can put into a difference
quotient of step h; FLOOR_ULPS counts how many roundings of the loss it
allows.
"""

import numpy as np
from numpy.typing import ArrayLike, NDArray

EPS = float(np.finfo(np.float64).eps)

# Central-difference step: near the cube root of eps (~6e-6), where truncation
# (~h^2) and rounding (~eps/h) of a central difference balance.
STEP = 1e-5
# Richardson's estimate is first-order accurate; a factor 4 covers its own
# error without hiding a wrong gradient.
SAFETY = 4.0
# Roundings of the loss the floor allows for (see the module docstring).
FLOOR_ULPS = 8.0
# manual vs autodiff: both are exact up to rounding, so they must agree to
# TWIN_TOL times max(1, largest |gradient| in the tensor).
TWIN_TOL = 1e-12
# Complex step: no subtraction, no truncation at h = 1e-30, so analytic and
# numeric agree to rounding; COMPLEX_TOL times max(1, largest |gradient|).
COMPLEX_STEP = 1e-30
COMPLEX_TOL = 1e-13


def floor(loss: float, h: float) -> float:
    """Rounding floor (absolute) of a difference quotient of step h."""
    return FLOOR_ULPS * EPS * max(abs(loss), 1.0) / h


def fd_tolerance(estimated_error: ArrayLike, floor_value: float) -> NDArray:
    """Per-element pass threshold from the error estimate and the floor."""
    return SAFETY * np.asarray(estimated_error) + floor_value


def relative_error(analytic: ArrayLike, numeric: ArrayLike, scale: float) -> NDArray:
    """|a - n| / max(|a|, |n|, scale), elementwise.

    ``scale`` (> 0) is the size below which a value counts as zero (the
    absolute floor of the check), so two zeros give 0, never NaN, and two
    values lost in rounding noise do not show a huge relative error.
    """
    a, n = np.asarray(analytic), np.asarray(numeric)
    denom = np.maximum(np.maximum(np.abs(a), np.abs(n)), scale)
    return np.abs(a - n) / denom
