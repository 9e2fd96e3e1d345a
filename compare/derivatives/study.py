"""The derivatives study: every activation's derivative, three ways.

For each activation g the study puts side by side

* g'(z) by hand: ``activations.ACTIVATIONS[name].deriv``;
* g'(z) by autograd: ``elementwise_grad`` of the autograd twin's activation;
* g'(z) by central finite differences, (g(z + h) - g(z - h)) / 2h;

then measures how the finite difference's error depends on the step h (the
"V-curve": truncation error ~ h**2 for large h, rounding error ~ eps / h for
small h, so the best step is about eps**(1/3)), and records what each method
says at the kink of relu and leaky_relu, where g has no derivative and every
answer is a convention.

Every function returns plain dicts of numpy arrays and floats;
:func:`to_jsonable` turns them into JSON. Figures are drawn by
``compare.derivatives.plots`` and the files written by ``compare.cli.derivatives``.
"""

from collections.abc import Callable, Sequence
from typing import Any

import autograd.numpy as anp
import numpy as np
from autograd import elementwise_grad
from numpy.typing import ArrayLike, DTypeLike, NDArray

import autodiff
from compare.common.dtypes import DTYPES
from manual import activations
from manual.activations import LEAKY_SLOPE, Activation

Fn = Callable[[NDArray], NDArray]

ACTIVATION_NAMES = ("sigmoid", "tanh", "relu", "leaky_relu", "softplus", "identity")
KINKED = ("relu", "leaky_relu")

# Where g, g' are drawn and compared: wide enough to show saturation.
Z_GRID = np.linspace(-4.0, 4.0, 801)
# Steps of the V-curve: 8 per decade from 1e-1 down to 1e-15.
STEPS = 10.0 ** np.linspace(-1.0, -15.0, 14 * 8 + 1)
# Base points of the V-curve. Positive and >= 0.25, so no step up to 1e-1
# crosses the kink at 0: the curve shows the difference quotient, not the kink.
# Errors are summarised by their median over these points, which smooths the
# rounding side and the points where g''' happens to vanish (tanh at 0.66).
BASE_POINTS = np.linspace(0.25, 2.0, 64)
# Steps used for the one-sided and central quotients at the kink.
KINK_STEPS = (1e-1, 1e-4, 1e-8)
# Central-difference step in the window drawn around the kink (it spans ±3 steps).
KINK_WINDOW_STEP = 1e-3


# Plain autograd.numpy expressions, independent of both twins. They stand in
# for a name the autograd twin does not have, and the kink study measures
# autograd's rule for np.maximum on the relu and leaky_relu written with it.
REFERENCE_EXPRESSIONS = {
    "sigmoid": lambda z: 0.5 * (anp.tanh(0.5 * z) + 1.0),  # no overflow for any z
    "tanh": anp.tanh,
    "relu": lambda z: anp.maximum(z, 0.0),
    "leaky_relu": lambda z: anp.maximum(z, LEAKY_SLOPE * z),
    "softplus": lambda z: anp.logaddexp(0.0, z),
    "identity": lambda z: z,
}


def resolve(activation: "str | Activation") -> Activation:
    """The Activation of a built-in name, or a user's Activation itself."""
    if isinstance(activation, Activation):
        return activation
    return activations.ACTIVATIONS[activation]


def is_builtin(act: Activation) -> bool:
    """True for an activation of the hand-derived registry (not a user's own)."""
    return activations.ACTIVATIONS.get(act.name) is act


def autograd_activation(activation: "str | Activation") -> tuple[Fn, str]:
    """Return ``(fn, source)``: the autograd twin's activation and where it came from.

    ``fn`` maps an array z to g(z) with autograd.numpy, so ``elementwise_grad``
    can differentiate it. ``REFERENCE_EXPRESSIONS`` is used only when the twin
    has no activation of that name; a user's activation is its own ``fn``.
    """
    if isinstance(activation, Activation):
        if not is_builtin(activation):
            return activation.fn, f"your {activation.name}"
        activation = activation.name
    name = activation
    if name in autodiff.ACTIVATION_FUNCTIONS:
        return autodiff.ACTIVATION_FUNCTIONS[name], f"autodiff.ACTIVATION_FUNCTIONS[{name!r}]"
    return REFERENCE_EXPRESSIONS[name], f"compare.derivatives.study.REFERENCE_EXPRESSIONS[{name!r}]"


def _autograd_values(fn: Fn, z: NDArray) -> NDArray:
    """autograd's g'(z), or NaN everywhere when g cannot be traced (plain numpy)."""
    try:
        return np.asarray(elementwise_grad(fn)(z), dtype=np.float64)
    except Exception:
        return np.full(np.shape(z), np.nan)


def central_difference(fn: Fn, z: ArrayLike, h: ArrayLike) -> NDArray:
    """Central difference (fn(z + h) - fn(z - h)) / (2 h), computed in z's dtype.

    Args:
        fn: elementwise function.
        z: array (...), the points; its dtype is the arithmetic's dtype.
        h: step, scalar or array broadcastable against z.
    Returns:
        array shaped like ``z + h``, in z's dtype.
    """
    points = np.asarray(z)
    dtype = points.dtype
    step = np.asarray(h, dtype=dtype)
    # Round g's values to the dtype even if fn computes in higher precision.
    plus = np.asarray(fn(points + step)).astype(dtype)
    minus = np.asarray(fn(points - step)).astype(dtype)
    return (plus - minus) / (dtype.type(2) * step)


def _near_kink(z: ArrayLike, kink: float | None, h: ArrayLike) -> NDArray:
    """Boolean mask (shape of z): points whose ±h stencil touches the kink."""
    if kink is None:
        return np.zeros(np.shape(z), dtype=bool)
    return np.abs(np.asarray(z) - kink) <= h


def derivative_table(names: Sequence["str | Activation"] = ACTIVATION_NAMES,
                     z: ArrayLike = Z_GRID) -> dict[str, Any]:
    """g and g' by hand, by autograd and by central differences on a grid.

    The finite-difference step is eps**(1/3) * max(1, |z|) (float64), the
    V-curve's optimum. Points whose stencil straddles a kink are excluded
    from the error statistics (and counted).

    Returns:
        dict with ``z`` (n,), ``fd_step`` (n,) and ``activations``: name ->
        dict of arrays ``g``, ``hand``, ``autograd``, ``fd`` (each (n,)),
        floats ``max_abs_autograd_minus_hand``, ``max_abs_fd_minus_hand``,
        int ``excluded_near_kink``, and strings ``autograd_source``, ``kink``.
    """
    z = np.asarray(z, dtype=np.float64)
    assert isinstance(z, np.ndarray)
    step = np.cbrt(np.finfo(np.float64).eps) * np.maximum(1.0, np.abs(z))
    rows: dict[str, Any] = {}
    table = {"z": z, "fd_step": step, "activations": rows}
    for activation in names:
        act = resolve(activation)
        name = act.name
        ag_fn, source = autograd_activation(act)
        hand = np.asarray(act.deriv(z), dtype=np.float64)
        auto = _autograd_values(ag_fn, z)
        fd = central_difference(act.fn, z, step)
        away = ~_near_kink(z, act.kink, step)
        rows[name] = {
            "g": np.asarray(act.fn(z), dtype=np.float64),
            "hand": hand,
            "autograd": auto,
            "fd": fd,
            "max_abs_autograd_minus_hand": _max_or_none(np.abs(auto - hand)[away]),
            "max_abs_fd_minus_hand": float(np.max(np.abs(fd - hand)[away])),
            "excluded_near_kink": int(np.sum(~away)),
            "autograd_source": source,
            "kink": act.kink,
        }
    return table


def _max_or_none(values: NDArray) -> float | None:
    """The largest value, or None when there is none that is finite (not measurable)."""
    finite = values[np.isfinite(values)]
    return float(finite.max()) if finite.size == values.size and values.size else None


def fd_errors(fn: Fn, deriv: Fn, base_points: ArrayLike, steps: ArrayLike,
              dtype: DTypeLike) -> NDArray:
    """|central difference - exact derivative| for every step and base point.

    The difference is computed entirely in ``dtype``; the exact value is the
    float64 hand derivative at the base point as rounded to ``dtype``, so the
    error is the difference quotient's own, not the rounding of the point.

    Returns:
        float64 array (len(steps), len(base_points)).
    """
    z = np.asarray(base_points).astype(dtype)
    exact = np.asarray(deriv(z.astype(np.float64)), dtype=np.float64)
    fd = central_difference(fn, z[None, :], np.asarray(steps, dtype=dtype)[:, None])
    return np.abs(fd.astype(np.float64) - exact[None, :])


def _slope(steps: NDArray, err: NDArray, mask: NDArray) -> float | None:
    """Least-squares slope of log10(err) against log10(steps) over ``mask``; None if < 3 points."""
    if int(np.sum(mask)) < 3:
        return None
    return float(np.polyfit(np.log10(steps[mask]), np.log10(err[mask]), 1)[0])


def fit_vcurve(steps: ArrayLike, median_err: ArrayLike, dtype: DTypeLike,
               base_points: ArrayLike = BASE_POINTS) -> dict[str, Any]:
    """Locate the best step and fit each side's slope on a log-log V-curve.

    The truncation side is the steps at least 4x the best one (there h**2
    outweighs the rounding error ~30 times); the rounding side is the steps
    at most 1/4 of the best, down to 10 * eps * max|z0|, below which z0 ± h
    rounds back to z0 and the error stops growing (a plateau, not a slope).
    Exact zeros are left out of the fits (log of 0).

    Returns:
        dict: ``best_step``, ``min_error``, ``truncation_slope`` (None when
        there is no truncation side, e.g. for a piecewise-linear g),
        ``rounding_slope``, ``truncation_points``, ``rounding_points``,
        ``truncation_side`` (False when there is no truncation side of at
        least 3 points: g is linear on every stencil, the error is rounding
        alone and falls all the way to the largest step).
    """
    steps = np.asarray(steps)
    err = np.asarray(median_err)
    eps = float(np.finfo(dtype).eps)
    positive = err > 0
    best = int(np.argmin(np.where(positive, err, np.inf)))
    trunc = positive & (steps >= 4 * steps[best])
    rnd = positive & (steps <= steps[best] / 4) & (steps >= 10 * eps * np.max(np.abs(base_points)))
    return {
        "best_step": float(steps[best]),
        "min_error": float(err[best]),
        "truncation_slope": _slope(steps, err, trunc),
        "rounding_slope": _slope(steps, err, rnd),
        "truncation_points": int(np.sum(trunc)),
        "rounding_points": int(np.sum(rnd)),
        "truncation_side": bool(np.sum(trunc) >= 3),
    }


def vcurves(names: Sequence["str | Activation"] = ACTIVATION_NAMES,
            dtypes: Sequence[str] = DTYPES, steps: ArrayLike = STEPS,
            base_points: ArrayLike = BASE_POINTS) -> dict[str, Any]:
    """The error-against-step curves of the central difference, per dtype and activation.

    Returns:
        dict with ``steps`` (n_steps,), ``base_points`` (n_points,) and
        ``dtypes``: dtype -> {``eps``, ``eps_cbrt``, ``activations``: name ->
        {``median``, ``p10``, ``p90`` (each (n_steps,)), plus the keys of
        :func:`fit_vcurve`}}.
    """
    blocks: dict[str, Any] = {}
    out = {"steps": np.asarray(steps), "base_points": np.asarray(base_points), "dtypes": blocks}
    for dtype in dtypes:
        eps = float(np.finfo(dtype).eps)
        per_act: dict[str, Any] = {}
        for activation in names:
            act = resolve(activation)
            name = act.name
            err = fd_errors(act.fn, act.deriv, base_points, steps, dtype)
            median = np.median(err, axis=1)
            per_act[name] = {
                "median": median,
                "p10": np.percentile(err, 10, axis=1),
                "p90": np.percentile(err, 90, axis=1),
                **fit_vcurve(steps, median, dtype, base_points),
            }
        blocks[dtype] = {"eps": eps, "eps_cbrt": float(np.cbrt(eps)),
                                "activations": per_act}
    return out


def kink_study(names: Sequence[str] = KINKED, steps: Sequence[float] = KINK_STEPS,
               window_step: float = KINK_WINDOW_STEP) -> dict[str, Any]:
    """What each method says at the kink of a piecewise-linear activation.

    Four answers are measured at the kink k: the hand derivative (the manual
    twin's convention), autograd on the autograd twin's function, autograd on
    the np.maximum form (``REFERENCE_EXPRESSIONS``), and difference quotients.

    Returns:
        dict name -> {``kink``, ``hand``, ``twin_autograd``, ``twin_source``,
        ``maximum_autograd``, ``maximum_source``, ``steps``, ``left``,
        ``right``, ``central`` (each a list over ``steps``: the one-sided
        quotients (g(k) - g(k - h)) / h, (g(k + h) - g(k)) / h and the central
        one), ``hand_between_one_sided`` (bool), ``window``: {``z`` (n,),
        ``step``, and (n,) arrays ``central``, ``hand``, ``twin_autograd``,
        ``maximum_autograd``}: the same around the kink}.
    """
    out: dict[str, Any] = {}
    for name in names:
        act = activations.ACTIVATIONS[name]
        assert act.kink is not None
        twin_fn, twin_source = autograd_activation(name)
        d_twin = elementwise_grad(twin_fn)
        d_max = elementwise_grad(REFERENCE_EXPRESSIONS[name])
        k = np.array([act.kink], dtype=np.float64)
        g = act.fn
        left = [float(((g(k) - g(k - h)) / h)[0]) for h in steps]
        right = [float(((g(k + h) - g(k)) / h)[0]) for h in steps]
        hand = float(np.asarray(act.deriv(k))[0])
        zs = act.kink + np.linspace(-3 * window_step, 3 * window_step, 121)
        out[name] = {
            "kink": float(act.kink),
            "hand": hand,
            "twin_autograd": float(d_twin(k)[0]),
            "twin_source": twin_source,
            "maximum_autograd": float(d_max(k)[0]),
            "maximum_source": f"compare.derivatives.study.REFERENCE_EXPRESSIONS[{name!r}]",
            "steps": list(steps),
            "left": left,
            "right": right,
            "central": [float(central_difference(g, k, h)[0]) for h in steps],
            "hand_between_one_sided": bool(min(left + right) <= hand <= max(left + right)),
            "window": {
                "z": zs,
                "step": window_step,
                "central": central_difference(g, zs, window_step),
                "hand": np.asarray(act.deriv(zs), dtype=np.float64),
                "twin_autograd": np.asarray(d_twin(zs), dtype=np.float64),
                "maximum_autograd": np.asarray(d_max(zs), dtype=np.float64),
            },
        }
    return out

