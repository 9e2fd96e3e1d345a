"""Directional checks of a loss known only as a function: the user's, as a black box.

For a unit direction v over one tensor, the loss is evaluated at
``theta + s v`` for s in (h, -h, h/2, -h/2), which gives the directional
derivative by Richardson extrapolation, its error estimate and the
one-sided slopes, exactly as for the paper loss
(:mod:`compare.gradcheck.finite_diff`); each evaluation is one call of the
user's function. A failing direction is bisected down to one coordinate:
the error along a direction is the sum of the errors along its two halves,
so measuring one half gives the other, one evaluation per halving.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from compare.gradcheck import finite_diff as fd
from compare.gradcheck import kinks
from compare.gradcheck import tolerance as T

Tensors = list[NDArray[np.float64]]
LossOf = Callable[[Tensors], float]


@dataclass
class Directional:
    """One tensor's directional measurements.

    Attributes:
        directions: (K, *shape) unit directions.
        analytic: (K,) <A, v> for the user's tensor A.
        numeric: (K,) the loss's directional derivatives.
        tol: (K,) pass thresholds.
        error: (K,) estimated finite-difference errors.
        kink: (K,) bool, the steps crossed a kink (None when unknown).
    """

    directions: NDArray
    analytic: NDArray
    numeric: NDArray
    tol: NDArray
    error: NDArray
    kink: NDArray | None = None


def loss_changes(loss_at: LossOf, tensors: Tensors, base: float, t: int, V: NDArray,
                 steps: NDArray) -> NDArray:
    """L(theta + s v) - L(theta) for each step s and direction v over tensor t.

    Returns:
        (S, K) array.
    """
    out = np.empty((len(steps), len(V)))
    for k, v in enumerate(V):
        for i, s in enumerate(steps):
            moved = list(tensors)
            moved[t] = tensors[t] + s * v
            out[i, k] = loss_at(moved) - base
    return out


def measure(loss_at: LossOf, tensors: Tensors, base: float, t: int, V: NDArray,
            grad: NDArray, h: float = T.STEP, kink: NDArray | None = None) -> Directional:
    """The user's gradient along directions V against the loss's differences.

    Args:
        loss_at: tensors -> loss (the black box).
        tensors: the point [W1, b1, ...]; base: the loss there.
        t: which tensor; V: (K, *shape) directions; grad: the user's tensor
            (the shape of tensor t).
        kink: (K,) bool, directions whose steps cross a kink (judged by the
            one-sided-slope rule), or None.
    """
    diffs = fd.differences(loss_changes(loss_at, tensors, base, t, V, fd.steps(h)), h)
    analytic, numeric, tol, error = kinks.directional_rules(V, grad, diffs, kink,
                                                            np.zeros(len(V), bool), None, base)
    return Directional(V, analytic, numeric, tol, error, kink)


def localise(loss_at: LossOf, tensors: Tensors, base: float, t: int, v: NDArray,
             grad: NDArray, h: float = T.STEP) -> tuple[tuple[int, ...], float, float]:
    """Bisect a failing direction's support down to one coordinate.

    Returns:
        (index, analytic, numeric) of the coordinate reached.
    """
    flat_v = v.reshape(-1)
    support = np.flatnonzero(flat_v)
    whole = _error(loss_at, tensors, base, t, flat_v, support, grad, h)
    while support.size > 1:
        first, second = np.array_split(support, 2)
        e_first = _error(loss_at, tensors, base, t, flat_v, first, grad, h)
        e_second = whole - e_first
        support, whole = (first, e_first) if abs(e_first) >= abs(e_second) else (second,
                                                                                  e_second)
    e = np.zeros(v.size)
    e[support[0]] = 1.0
    one = measure(loss_at, tensors, base, t, e.reshape((1,) + v.shape), grad, h)
    index = tuple(int(i) for i in np.unravel_index(int(support[0]), v.shape))
    return index, float(one.analytic[0]), float(one.numeric[0])


def _error(loss_at: LossOf, tensors: Tensors, base: float, t: int, flat_v: NDArray,
           part: NDArray, grad: NDArray, h: float) -> float:
    """<grad, w> minus the loss's central difference along w = v restricted to ``part``.

    One central difference (two calls) suffices: it only has to tell which
    half holds the larger error, and a bug is far above its truncation error.
    """
    flat_w = np.zeros(flat_v.size)
    flat_w[part] = flat_v[part]
    w = flat_w.reshape(grad.shape)
    dL = loss_changes(loss_at, tensors, base, t, w[None], np.array([h, -h]))
    return float(np.sum(grad * w)) - float(dL[0, 0] - dL[1, 0]) / (2 * h)
