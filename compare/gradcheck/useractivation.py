"""A user's own activation: loaded from a file, its derivative checked three ways.

The user's file defines, in numpy (or autograd.numpy)::

    def swish(z):            return z / (1 + np.exp(-z))
    def swish_prime(z):      return ...          # the hand-derived derivative
    swish_kink = None                            # optional: where g has a kink

and names it as ``--activation PATH.py:swish``. ``swish_prime`` is then held,
on a grid of z, against

* central finite differences of ``swish`` (Richardson extrapolation, with
  the same error-estimated tolerance as the gradient checks);
* the complex step Im g(z + ih)/h, where g is complex-analytic (it must agree
  with the finite differences first; abs, maximum and comparisons are not);
* autograd's derivative of ``swish``, where ``swish`` is written with
  ``autograd.numpy`` (plain numpy cannot be traced).
"""

import warnings
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from compare.gradcheck import tolerance as T
from compare.gradcheck.diagnose import Diagnosis
from compare.gradcheck.report import FAIL, TensorCheck, skipped, summarise
from compare.gradcheck.usercode import (
    UserCodeError,
    describe_exception,
    function_of,
    load_module,
    split_spec,
)
from manual.activations import Activation

# Where the derivative is checked: wide enough to reach saturation.
GRID = np.linspace(-6.0, 6.0, 1201)
# Relative central-difference step (times max(1, |z|)), near eps^(1/3).
STEP = 1e-5

Fn = Callable[[NDArray], NDArray]


def load_activation(spec: str) -> Activation:
    """The Activation ``PATH.py:NAME`` (or ``module:NAME``) names.

    Raises:
        UserCodeError: no NAME or NAME_prime in the file, or they do not map
            an array to an array of its shape, finite at every z of GRID (the
            checks evaluate them there).
    """
    where, name = split_spec(spec)
    if name is None:
        raise UserCodeError(f"--activation {spec}: name the function as "
                            f"{spec.removesuffix(':')}:NAME "
                            "(the file defines NAME(z) and NAME_prime(z))")
    signature = f"{name}(z) and {name}_prime(z), numpy arrays in and out"
    # One import of the file: NAME, NAME_prime and NAME_kink from the same module.
    module = load_module(where)
    fn = function_of(module, where, name, signature)
    deriv = function_of(module, where, f"{name}_prime", signature)
    kink = getattr(module, f"{name}_kink", None)
    if kink is not None and not isinstance(kink, (int, float)):
        raise UserCodeError(f"{where}: {name}_kink is {kink!r}; make it a number (the z where "
                            f"{name} has a kink) or None")
    z = np.linspace(-3.0, 3.0, 7).reshape(7, 1)
    for f, what in ((fn, name), (deriv, f"{name}_prime")):
        try:
            with np.errstate(all="ignore"):
                raw = f(z.copy())
        except Exception as err:
            source = getattr(getattr(f, "__code__", None), "co_filename", where)
            raise UserCodeError(f"{where}: {what}(z) raised {describe_exception(err, source)} "
                                "on a (7, 1) array; make it work elementwise on arrays of "
                                "any shape") from None
        way_out = "return an array of z's shape (it must work elementwise)"
        try:
            out = np.asarray(raw, dtype=float)
        except (TypeError, ValueError):
            raise UserCodeError(f"{where}: {what}(z) returned {str(raw)[:40]!r}, not numbers; "
                                f"{way_out}") from None
        if out.shape != z.shape:
            got = "None" if raw is None else f"shape {out.shape}"
            raise UserCodeError(f"{where}: {what}(z) returned {got} for an input of shape "
                                f"{z.shape}; {way_out}")
    act = Activation(name, fn, deriv, None if kink is None else float(kink))
    check_finite(act, GRID, where)
    return act


def check_finite(act: Activation, z: NDArray, where: str) -> None:
    """Refuse ``act`` unless g and g' are finite at every point of ``z`` (1-D).

    ``z`` is the grid a check evaluates them on (GRID here, the derivative
    study's own grid there).

    Raises:
        UserCodeError: which function, the first z where it is not finite,
            and the way out.
    """
    way_out = (f"make {act.name} and {act.name}_prime finite for every z (a pre-activation "
               "can take any value)")
    for f, what in ((act.fn, act.name), (act.deriv, f"{act.name}_prime")):
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = np.asarray(f(z.copy()), dtype=float)
        except Exception as err:
            source = getattr(getattr(f, "__code__", None), "co_filename", where)
            raise UserCodeError(f"{where}: {what}(z) raised {describe_exception(err, source)} "
                                f"on z in [{z[0]:g}, {z[-1]:g}]; {way_out}") from None
        if out.shape != z.shape:
            raise UserCodeError(f"{where}: {what}(z) returned shape {out.shape} for an input "
                                f"of shape {z.shape}; return an array of z's shape (it must "
                                "work elementwise)")
        bad = z[~np.isfinite(out)]
        if bad.size:
            span = f", z from {bad[0]:g} to {bad[-1]:g}" if bad.size > 1 else ""
            raise UserCodeError(f"{where}: {what}(z) is not finite at z = {bad[0]:g} "
                                f"({bad.size} of the {z.size} points in [{z[0]:g}, {z[-1]:g}] "
                                f"where it is checked{span}); {way_out}")


def central(fn: Fn, z: NDArray, h: NDArray) -> NDArray:
    """(g(z + h) - g(z - h)) / 2h."""
    return (np.asarray(fn(z + h), float) - np.asarray(fn(z - h), float)) / (2 * h)


def fd_derivative(fn: Fn, z: NDArray, step: float = STEP) -> tuple[NDArray, NDArray, NDArray]:
    """Richardson-extrapolated central differences of ``fn`` at ``z``.

    Returns:
        (numeric, estimated error, tolerance), each shaped like z.
    """
    h = step * np.maximum(1.0, np.abs(z))
    with np.errstate(all="ignore"):     # a stencil may leave g's domain: NaN, never a pass
        d_h, d_h2 = central(fn, z, h), central(fn, z, h / 2)
        numeric, error = (4 * d_h2 - d_h) / 3, np.abs(d_h - d_h2) / 3
        g = np.abs(np.asarray(fn(z), float))
        tol = T.SAFETY * error + T.FLOOR_ULPS * T.EPS * np.maximum(g, 1.0) / h
    return numeric, error, tol


def complex_step(fn: Fn, z: NDArray) -> NDArray | None:
    """Im g(z + ih)/h, or None when g does not take complex input."""
    try:
        with np.errstate(all="ignore"):
            out = np.asarray(fn(z + 1j * T.COMPLEX_STEP))
    except Exception:
        return None
    if not np.iscomplexobj(out) or out.shape != z.shape:
        return None
    return out.imag / T.COMPLEX_STEP


def autograd_derivative(fn: Fn, z: NDArray) -> NDArray | None:
    """autograd's elementwise derivative of g, or None when g cannot be traced.

    Plain numpy ufuncs pass through autograd, but other numpy functions
    (``np.where``, ``np.maximum`` on a plain array...) cut the trace: autograd
    then warns that the output is independent of the input and returns zeros,
    which is taken here as "cannot be traced", not as a derivative.
    """
    from autograd import elementwise_grad
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("error")
            out = np.asarray(elementwise_grad(fn)(z), dtype=float)
    except Exception:
        return None
    return out if out.shape == z.shape else None


def autograd_usable(act: Activation, z: NDArray = GRID) -> str | None:
    """None when autograd differentiates ``act.fn`` correctly; else why not.

    A framework-derived twin differentiates ``act.fn`` itself, so it is only
    a fair oracle where autograd's derivative agrees with finite differences.
    """
    if act.kink is not None:
        z = z[np.abs(z - act.kink) > 2 * STEP * np.maximum(1.0, np.abs(z))]
    auto = autograd_derivative(act.fn, z)
    if auto is None:
        return (f"{act.name} is not written with autograd.numpy, so autograd cannot trace it "
                "(import autograd.numpy as np in your file)")
    numeric, _, tol = fd_derivative(act.fn, z)
    if not np.all(np.abs(auto - numeric) <= tol):
        return (f"autograd's derivative of {act.name} disagrees with finite differences "
                "(a numpy function autograd does not know?)")
    return None


def derivative_rows(act: Activation, z: NDArray = GRID) -> tuple[list[TensorCheck], list[str]]:
    """``act.deriv`` against FD, the complex step and autograd on a grid of z.

    Points whose stencil reaches a declared kink are left out.

    Returns:
        (rows, notes): one row per oracle (skipped where it does not apply).
    """
    name, tensor = act.name, "g'"
    h = STEP * np.maximum(1.0, np.abs(z))
    if act.kink is not None:
        z = z[np.abs(z - act.kink) > 2 * h]
    with np.errstate(all="ignore"):
        hand = np.asarray(act.deriv(z.copy()), dtype=float)
    numeric, error, tol = fd_derivative(act.fn, z)
    smallest_tol = float(np.min(tol, initial=np.inf, where=np.isfinite(tol)))
    rows = [summarise(name, f"{name}_prime vs FD", tensor, hand, numeric, tol,
                      rel_scale=smallest_tol, fd_error=error, step=STEP,
                      extra_fail=_not_finite(hand, numeric, tol))]
    notes = [f"{name}_prime checked at {z.size} points z in [{z.min():g}, {z.max():g}]"
             + (f" (none within a step of the kink at {act.kink:g})"
                if act.kink is not None else "")]
    # Each oracle's values and tolerance, so that a failing row is diagnosed
    # against the numbers it failed on.
    against = {rows[0].oracle: (numeric, tol)}
    cs = complex_step(act.fn, z)
    oracle = f"{name}_prime vs complex"
    if cs is None:
        rows.append(skipped(name, oracle, tensor, z.shape, f"{name} does not take complex "
                                                             "input"))
    elif not np.all(np.abs(cs - numeric) <= tol):
        rows.append(skipped(name, oracle, tensor, z.shape,
                            f"{name} is not complex-analytic (its complex step disagrees with "
                            "finite differences: abs, maximum or a comparison?)"))
    else:
        scale = T.COMPLEX_TOL * max(1.0, float(np.abs(cs).max()))
        rows.append(summarise(name, oracle, tensor, hand, cs, scale, rel_scale=T.COMPLEX_TOL,
                              step=T.COMPLEX_STEP, extra_fail=_not_finite(hand, cs)))
        against[oracle] = (cs, np.full(cs.shape, scale))
    auto = autograd_derivative(act.fn, z)
    oracle = f"{name}_prime vs autograd"
    why = autograd_usable(act, z)
    if auto is None or why is not None:
        rows.append(skipped(name, oracle, tensor, z.shape, str(why)))
    else:
        scale = T.TWIN_TOL * max(1.0, float(np.abs(auto).max()))
        rows.append(summarise(name, oracle, tensor, hand, auto, scale, rel_scale=T.TWIN_TOL,
                              extra_fail=_not_finite(hand, auto)))
        against[oracle] = (auto, np.full(auto.shape, scale))
    for row in rows:
        if row.verdict != FAIL:
            continue
        i = row.worst[0]
        row.note = f"worst at z = {z[i]:+.4g}: {name}_prime {hand[i]:+.6e}"
        with np.errstate(all="ignore"):
            row.diagnosis = derivative_diagnosis(act, z, hand, *against[row.oracle])
    return rows, notes


def _not_finite(*arrays: NDArray) -> NDArray:
    """Mask of the points where any of ``arrays`` is NaN or infinite: never a pass."""
    return ~np.all([np.isfinite(a) for a in arrays], axis=0)


def derivative_diagnosis(act: Activation, z: NDArray, hand: NDArray, true: NDArray,
                         tol: NDArray) -> list[Diagnosis]:
    """What a wrong g' is, from its values against the true derivative on the grid."""
    name = act.name
    with np.errstate(all="ignore"):
        g = np.asarray(act.fn(z), float)
        at_g = fd_derivative(act.fn, g)[0]
    tests: list[tuple[str, str, NDArray, NDArray]] = [
        ("sign", f"{name}_prime = -{name}': the sign is wrong", -true, tol),
        ("activation_derivative", f"{name}_prime returns {name}(z) itself, not its "
                                  "derivative", g, tol),
        ("activation_derivative", f"{name}_prime(z) is {name}'({name}(z)): the derivative "
                                  "taken at the activation instead of the pre-activation",
         at_g, tol + T.SAFETY * np.abs(at_g) * 1e-6),
    ]
    for kind, text, predicted, t in tests:
        if np.all(np.abs(hand - predicted) <= t):
            return [Diagnosis(kind, text)]
    denom = float(true @ true)
    c = float(hand @ true) / denom if denom else 0.0
    off_one = np.any(np.abs(true) * abs(c - 1) > tol)          # c = 1 explains nothing
    if c and off_one and np.all(np.abs(hand - c * true) <= abs(c) * tol):
        return [Diagnosis("scale", f"{name}_prime = c x {name}' with c = {c:.6g}", {"c": c})]
    err = np.abs(hand - true)
    bad = ~(err <= tol)                 # NaN is off too
    if not bad.any():
        return []
    where, finite = z[bad], err[bad & np.isfinite(err)]
    sizes = [f"largest error {float(finite.max()):.2e}"] if finite.size else []
    if finite.size < where.size:
        sizes.append(f"{where.size - finite.size} not finite (in {name}_prime or in the "
                     f"finite differences of {name})")
    return [Diagnosis("other", f"{name}_prime is off at {where.size} of {z.size} points, "
                               f"z in [{where.min():+.3g}, {where.max():+.3g}]; "
                               + ", ".join(sizes),
                      {"failed": int(bad.sum())})]
