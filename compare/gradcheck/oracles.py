"""The oracles as table rows: each twin vs a numerical derivative, and every
pair of twins against each other.

Every function returns a list of :class:`TensorCheck` rows; the modes
(full, fast, complex) differ only in how they obtain the numerical values.
"""

import itertools
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from compare.gradcheck import tolerance as T
from compare.gradcheck.report import TensorCheck, summarise

Output = tuple[float, list[NDArray[np.float64]]]
Masks = list[NDArray[np.bool_]]


def loss_row(activation: str, oracle: str, twin_loss: float,
             reference_loss: float) -> TensorCheck:
    """The twin's loss against the loss the numerical check differentiates.

    A gradient can only match the derivative of the function the check
    evaluates; this row shows the two functions agree at the base point.
    """
    tol = T.TWIN_TOL * max(1.0, abs(reference_loss))
    return summarise(activation, oracle, "loss", np.array(twin_loss), np.array(reference_loss),
                     tol, rel_scale=tol)


def pair_rows(activation: str, names: Sequence[str], outs: dict[str, Output],
              unmatched: dict[tuple[str, str], Masks] | None = None,
              note: str = "") -> list[TensorCheck]:
    """Every pair of twins, element by element, to TWIN_TOL.

    Args:
        names: tensor names ["W1", "b1", ...].
        outs: {twin: (loss, [tensors])}, in registry order.
        unmatched: optional {(a, b): list of bool masks}, elements a pair
            does not compare (exact kinks where the two twins' conventions
            differ).
        note: explanation attached to rows with unmatched elements.
    Returns:
        list of TensorCheck, for each pair its loss row first.
    """
    rows = []
    for a, b in itertools.combinations(outs, 2):
        rows += pair_against(activation, names, f"{a} vs {b}", outs[a], outs[b],
                             (unmatched or {}).get((a, b)), note)
    return rows


def pair_against(activation: str, names: Sequence[str], oracle: str, out_a: Output,
                 out_b: Output, unmatched: Masks | None = None,
                 note: str = "") -> list[TensorCheck]:
    """One pair of gradient sets, loss row first, then each tensor to TWIN_TOL."""
    (loss_m, grads_m), (loss_a, grads_a) = out_a, out_b
    rows = [loss_row(activation, oracle, loss_m, loss_a)]
    for t, name in enumerate(names):
        gm, ga = grads_m[t], grads_a[t]
        if gm.shape != ga.shape:
            rows.append(shape_mismatch(activation, oracle, name, gm, ga))
            continue
        scale = max(1.0, float(np.abs(gm).max(initial=0.0)), float(np.abs(ga).max(initial=0.0)))
        tol = np.full(gm.shape, T.TWIN_TOL * scale)
        mask = unmatched[t] if unmatched is not None else None
        if mask is not None:
            tol = np.where(mask, np.inf, tol)
        row = summarise(activation, oracle, name, gm, ga, tol, rel_scale=T.TWIN_TOL,
                        kink=mask)
        if mask is not None and mask.any():
            row.note = note
        rows.append(row)
    return rows


def numeric_rows(activation: str, oracle: str, names: Sequence[str],
                 grads: Sequence[NDArray], numeric: Sequence[ArrayLike],
                 tol: Sequence[ArrayLike], *, rel_scales: Sequence[float],
                 errors: Sequence[ArrayLike | None] | None = None, step: float | None = None,
                 kinks: Sequence[NDArray[np.bool_] | None] | None = None,
                 extra_fail: Sequence[NDArray[np.bool_] | None] | None = None,
                 unit: str = "elements") -> list[TensorCheck]:
    """A twin's gradients against numerical values, tensor by tensor.

    Args:
        names: tensor names; grads: the twin's tensors (analytic values).
        numeric, tol: per tensor, the numerical values and pass thresholds
            (shaped like the analytic values for elements, or one per direction).
        rel_scales: per tensor, the zero level of the relative error.
        errors: per tensor, estimated numerical error, or None.
        kinks, extra_fail: per tensor bool masks, or None.
    Returns:
        list of TensorCheck.
    """
    rows = []
    for t, name in enumerate(names):
        if grads[t].shape != np.shape(numeric[t]) and unit == "elements":
            rows.append(shape_mismatch(activation, oracle, name, grads[t],
                                       np.asarray(numeric[t])))
            continue
        rows.append(summarise(
            activation, oracle, name, grads[t], numeric[t], tol[t], rel_scale=rel_scales[t],
            fd_error=None if errors is None else errors[t], step=step,
            kink=None if kinks is None else kinks[t],
            extra_fail=None if extra_fail is None else extra_fail[t], unit=unit))
    return rows


def shape_mismatch(activation: str, oracle: str, name: str, got: NDArray,
                   expected: NDArray) -> TensorCheck:
    """A failed row for a gradient of the wrong shape (a finding, not a crash)."""
    row = summarise(activation, oracle, name, np.array([np.nan]), np.array([0.0]), 0.0,
                    rel_scale=1.0, extra_fail=np.array([True]))
    a, b = tuple(np.shape(got)), tuple(np.shape(expected))
    row.note = f"grad {name} has shape {a}, {name} has {b}"
    if len(a) == 2 and a == b[::-1]:
        row.note += ": transposed?"
    return row
