"""Central differences, one-sided slopes and Richardson error estimates.

Every check evaluates the loss change dL at the four steps of
:func:`steps` (h, -h, h/2, -h/2); the functions here turn those into
derivative estimates. The arrays carry the four steps on axis 0 and any
shape after it (coordinates or directions).
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from compare.gradcheck.lossfn import loss_value
from compare.twins import Params
from manual.activations import Activation


def steps(h: float) -> NDArray:
    """The four steps every check evaluates: (h, -h, h/2, -h/2)."""
    return np.array([h, -h, h / 2, -h / 2])


@dataclass
class Differences:
    """Derivative estimates from the loss changes at (h, -h, h/2, -h/2).

    Attributes:
        h: the larger step.
        central_h, central_h2: D(h) and D(h/2), central differences.
        numeric: Richardson extrapolation (4 D(h/2) - D(h)) / 3.
        error: estimated error |D(h) - D(h/2)| / 3.
        right_h, right_h2, left_h, left_h2: one-sided slopes
            (L(+s) - L)/s and (L - L(-s))/s for s = h and h/2.
    """

    h: float
    central_h: NDArray
    central_h2: NDArray
    numeric: NDArray
    error: NDArray
    right_h: NDArray
    right_h2: NDArray
    left_h: NDArray
    left_h2: NDArray


def differences(dL: ArrayLike, h: float) -> Differences:
    """Derivative estimates from dL (4, ...) evaluated at :func:`steps` (h)."""
    dL = np.asarray(dL)
    central_h = (dL[0] - dL[1]) / (2 * h)
    central_h2 = (dL[2] - dL[3]) / h
    numeric, error = richardson(central_h, central_h2)
    return Differences(h=h, central_h=central_h, central_h2=central_h2,
                       numeric=numeric, error=error,
                       right_h=dL[0] / h, right_h2=dL[2] / (h / 2),
                       left_h=-dL[1] / h, left_h2=-dL[3] / (h / 2))


def richardson(d_h: NDArray, d_h2: NDArray) -> tuple[NDArray, NDArray]:
    """Extrapolate two central differences of steps h and h/2.

    Their errors are c h^2 and c h^2 / 4, so
    (4 D(h/2) - D(h)) / 3 cancels the h^2 term, and |D(h) - D(h/2)| / 3
    estimates the error c h^2 / 4 of D(h/2).

    Returns:
        (extrapolated value, estimated error), arrays like the inputs.
    """
    return (4 * d_h2 - d_h) / 3, np.abs(d_h - d_h2) / 3


def naive_central_differences(params: Params, X: NDArray, y: NDArray,
                              activation: "str | Activation",
                              h: float) -> list[tuple[NDArray, NDArray]]:
    """D(h) for every parameter by two full forward passes each (slow).

    The reference the structured evaluation is tested against; use only on
    tiny networks (2 forward passes per parameter).

    Returns:
        list of K pairs (DW (n_k, n_{k+1}), Db (n_{k+1},)).
    """
    out: list[tuple[NDArray, NDArray]] = []
    for k, (W, b) in enumerate(params):
        pair: list[NDArray] = []
        for t, tensor in enumerate((W, b)):
            D = np.empty_like(tensor)
            for idx in np.ndindex(tensor.shape):
                losses: list[float] = []
                for s in (h, -h):
                    moved = tensor.copy()
                    moved[idx] += s
                    trial = list(params)
                    trial[k] = (moved, b) if t == 0 else (W, moved)
                    losses.append(float(loss_value(trial, X, y, activation)))
                D[idx] = (losses[0] - losses[1]) / (2 * h)
            pair.append(D)
        out.append((pair[0], pair[1]))
    return out
