"""Kinks: where relu and leaky_relu have no derivative, and what to check there.

A coordinate is labelled ``kink`` when one of its steps (h, h/2, either
sign) moves a hidden pre-activation across the kink at 0 or off it. There
the central difference straddles two linear pieces and compares with
nothing in particular, so a kink is neither passed nor failed by it; it is
checked instead for the analytic value lying between the one-sided slopes
(L(+s) - L)/s and (L - L(-s))/s, s = h and h/2, widened by an estimate of
their curvature error (see :func:`kink_rule`).

A pre-activation *exactly* on the kink is where the derivative is a
convention. The conventions at z = 0 (see :func:`conventions`):

* the hand-derived twins (and any twin not derived by a framework):
  relu'(0) = 0, leaky_relu'(0) = 0.01, the activation's documented
  derivative (``ACTIVATIONS[..].deriv``);
* the autodiff twin: whatever autograd finds for its relu, x * (x > 0),
  which is 0 (measured by :func:`measured_slope`);
* autograd's ``np.maximum(0, x)`` splits a tie between its arguments, 1/2 and
  1/2, so it would give 1/2 (0.505 for leaky);
* a central difference gives the average of the two sides, 1/2 (0.505).

For a coordinate that moves such a unit, the check compares the twin's
value instead with the derivative of the loss in which those units follow
the straight line of the twin's documented slope (its own convention), by
the usual error-estimated rule. That is what catches a wrong derivative
*at* the kink, which the one-sided-slope rule cannot (0 and 1 are both
between the slopes of a single unit).
"""

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from compare.gradcheck import tolerance as T
from compare.gradcheck.finite_diff import Differences
from compare.gradcheck.twins import TWINS, GradFn, loss_and_grads
from compare.twins import FRAMEWORK_DERIVED
from manual import activations
from manual.activations import Activation


def documented_slope(activation: "str | Activation") -> float | None:
    """The manual twin's derivative at the kink (its ``deriv`` there), or None."""
    act = activations.get_activation(activation)
    if act.kink is None:
        return None
    return float(act.deriv(np.array([act.kink]))[0]) + 0.0     # + 0.0: no "-0"


def measured_slope(grad_fn: GradFn, activation: "str | Activation") -> float | None:
    """The derivative at the kink a ``loss_and_grads`` actually uses, or None.

    Runs a 1-1-2 network whose one hidden unit sits exactly on the kink
    (input 0, bias = kink) and reads g'(kink) off db1 = g'(kink) * dL/da.
    """
    act = activations.get_activation(activation)
    if act.kink is None:
        return None
    params = [(np.array([[1.0]]), np.array([act.kink])),
              (np.array([[1.0, 0.0]]), np.zeros(2))]
    X, y = np.zeros((1, 1)), np.array([0])
    _, grads = grad_fn(params, X, y, activation)
    logits = np.array([float(act.fn(np.array([act.kink]))[0]), 0.0])
    p0 = np.exp(logits[0] - np.logaddexp(logits[0], logits[1]))
    dL_da = p0 - 1.0                          # W2 = [1, 0], label 0
    return float(np.asarray(grads[0][1])[0] / dL_da) + 0.0      # + 0.0: no "-0"


def twin_slope(twin: str, activation: "str | Activation") -> float | None:
    """The convention the check holds ``twin`` to at an exact kink.

    A twin with hand-written derivatives is held to the activation's
    documented derivative; a twin derived by a framework
    (``compare.twins.FRAMEWORK_DERIVED``) to the one its framework finds.
    """
    if twin in FRAMEWORK_DERIVED:
        return measured_slope(loss_and_grads(twin), activation)
    return documented_slope(activation)


def conventions(activation: "str | Activation",
                twins: Sequence[str] | None = None) -> dict[str, float | None] | None:
    """The derivative at the kink under each convention, or None if smooth.

    Args:
        twins: the twins to measure (default: every registered one).
    Returns:
        dict: documented, "<twin> measured" for each twin,
        autograd np.maximum, central difference.
    """
    act = activations.get_activation(activation)
    if act.kink is None:
        return None
    import autograd.numpy as anp
    from autograd import grad
    slope = float(act.deriv(np.array([act.kink + 1.0]))[0])     # right of the kink
    left = float(act.deriv(np.array([act.kink - 1.0]))[0])      # left of the kink
    h = T.STEP
    g = act.fn(np.array([act.kink - h, act.kink + h]))
    return {
        "documented": documented_slope(activation),
        **{f"{twin} measured": measured_slope(loss_and_grads(twin), activation)
           for twin in (TWINS if twins is None else twins)},
        "autograd np.maximum": float(grad(lambda z: anp.maximum(left * z, slope * z))(0.0)),
        "central difference": float((g[1] - g[0]) / (2 * h)),
    }


def kink_rule(analytic: NDArray, diffs: Differences,
              loss: float) -> tuple[NDArray, NDArray, NDArray]:
    """The one-sided-slope rule, element-wise.

    The interval spans the four one-sided slopes (right and left, steps h and
    h/2). Its widening allows for the curvature error of a one-sided slope,
    about (s/2) |L''|, estimated as 2 |D(h) - D(h/2)| on the side whose two
    slopes agree better (the side whose steps do not reach the kink; on the
    other side the two slopes differ by how much of the jump each step
    takes in, which says nothing about the error).

    Args:
        analytic: (...) the twin's values.
        diffs: Differences of the same shape.
        loss: the loss at the base point (sets the floor).
    Returns:
        (numeric, tolerance, error): ``numeric`` is the point of the
        interval nearest to ``analytic``, ``tolerance`` the widening,
        ``error`` the estimated error of a one-sided slope.
    """
    slopes = np.stack([diffs.right_h, diffs.right_h2, diffs.left_h, diffs.left_h2])
    lo, hi = slopes.min(axis=0), slopes.max(axis=0)
    error = 2 * np.minimum(np.abs(diffs.right_h - diffs.right_h2),
                           np.abs(diffs.left_h - diffs.left_h2))
    tol = T.SAFETY * error + T.floor(loss, diffs.h / 2)
    return np.clip(analytic, lo, hi), tol, error


def apply_kink_rules(analytic: NDArray, diffs: Differences, kink: NDArray | None,
                     exact: NDArray, pinned: Differences | None,
                     loss: float) -> tuple[NDArray, NDArray, NDArray]:
    """Numeric values, tolerances and error estimates with the kink rules applied.

    Elements labelled kink get the one-sided-slope rule; elements that move
    a unit exactly on the kink are compared with the convention-pinned
    difference instead. (With several units on the kink at once, as for a
    blank input, the chain rule's value need not lie between the one-sided
    slopes of the whole loss, so only the pinned rule is sound there.)

    Args:
        analytic: (...) the twin's values.
        diffs: Differences (central rule) of the same shape.
        kink: bool (...), labelled kink; exact: bool (...), moves a unit on it.
        pinned: Differences of the loss with on-kink units following the
            twin's convention, or None when no element is ``exact``.
        loss: the loss at the base point.
    Returns:
        (numeric, tolerance, error), arrays shaped like ``analytic``.
    """
    floor = T.floor(loss, diffs.h)
    numeric = diffs.numeric.copy()
    tol = T.fd_tolerance(diffs.error, floor)
    error = diffs.error.copy()
    if kink is None or not kink.any():
        return numeric, tol, error
    k_num, k_tol, k_err = kink_rule(analytic, diffs, loss)
    numeric = np.where(kink, k_num, numeric)
    tol = np.where(kink, k_tol, tol)
    error = np.where(kink, k_err, error)
    if pinned is not None and exact.any():
        numeric = np.where(exact, pinned.numeric, numeric)
        tol = np.where(exact, T.fd_tolerance(pinned.error, floor), tol)
        error = np.where(exact, pinned.error, error)
    return numeric, tol, error


def directional_rules(V: NDArray, grad: NDArray, diffs: Differences, kink: NDArray | None,
                      exact: NDArray, pinned: Differences | None,
                      loss: float) -> tuple[NDArray, NDArray, NDArray, NDArray]:
    """:func:`apply_kink_rules` for differences along directions V of one tensor.

    Args:
        V: (K, *shape) directions; grad: the checked tensor (that shape).
        diffs, kink, exact, pinned, loss: as for :func:`apply_kink_rules`, per direction.
    Returns:
        (analytic <grad, v>, numeric, tolerance, error), each (K,); the
        tolerance also allows for the rounding of <grad, v> itself.
    """
    analytic = np.tensordot(V, grad, axes=grad.ndim)
    numeric, tol, error = apply_kink_rules(analytic, diffs, kink, exact, pinned, loss)
    # <grad, v> itself rounds: at most n eps sum |g_i v_i| (the dot product bound).
    tol = tol + grad.size * T.EPS * np.tensordot(np.abs(V), np.abs(grad), axes=grad.ndim)
    return analytic, numeric, tol, error
