"""One row per (activation, oracle, tensor): what was compared and the verdict.

:func:`summarise` reduces element-wise comparisons to a :class:`TensorCheck`;
:func:`format_table` prints them for a person, :func:`to_dict` for a program.
"""

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from compare.gradcheck.tolerance import relative_error

if TYPE_CHECKING:
    from compare.gradcheck.diagnose import Diagnosis

PASS, FAIL, SKIP = "pass", "FAIL", "skip"


@dataclass
class TensorCheck:
    """The comparison of one parameter tensor by one oracle.

    Attributes:
        activation: hidden activation name.
        oracle: what was compared, e.g. "manual vs FD", "manual vs autodiff".
        tensor: "W1", "b1", ... (layer numbers from 1), or "loss".
        shape: the tensor's shape.
        checked: how many elements (or directions, see ``unit``) were compared.
        unit: "elements" or "directions".
        kinks: how many of them were labelled ``kink`` (checked by the
            one-sided-slope rule instead).
        failed: how many failed.
        max_abs: largest |analytic - numeric|.
        max_rel: largest |a - n| / max(|a|, |n|, floor); 0 when both are 0.
        worst: index of the element with the largest error relative to its
            tolerance (the first element if none differs).
        analytic, numeric: the two values at ``worst``.
        tolerance: the pass threshold at ``worst``.
        fd_error: the estimated finite-difference error at ``worst`` (None
            when no finite difference is involved).
        step: the finite-difference step h (None when not used).
        verdict: "pass", "FAIL" or "skip".
        note: anything else a reader needs (a localised coordinate, a reason
            for skipping).
        localised: in mode fast, the coordinate a failing direction was
            bisected down to (None otherwise).
        slope: in mode sweep, the fitted log-log slope of the error against
            the step on the truncation side (None otherwise).
        diagnosis: for a failing tensor of a user's function, what the
            numbers say the bug is (:mod:`compare.gradcheck.diagnose`).
    """

    activation: str
    oracle: str
    tensor: str
    shape: tuple[int, ...]
    checked: int
    unit: str
    kinks: int
    failed: int
    max_abs: float
    max_rel: float
    worst: tuple[int, ...]
    analytic: float
    numeric: float
    tolerance: float
    fd_error: float | None = None
    step: float | None = None
    verdict: str = PASS
    note: str = ""
    localised: tuple[int, ...] | None = None
    slope: float | None = None
    diagnosis: "list[Diagnosis]" = field(default_factory=list)


def summarise(activation: str, oracle: str, tensor: str, analytic: ArrayLike,
              numeric: ArrayLike, tol: ArrayLike, *, rel_scale: float,
              fd_error: ArrayLike | None = None, step: float | None = None,
              kink: NDArray[np.bool_] | None = None,
              extra_fail: NDArray[np.bool_] | None = None,
              unit: str = "elements") -> TensorCheck:
    """Compare two arrays element by element against per-element tolerances.

    Args:
        activation, oracle, tensor: labels of the row.
        analytic, numeric: arrays of the same shape.
        tol: per-element (or scalar) pass threshold on |analytic - numeric|.
        rel_scale: the size below which a value counts as zero in the
            relative error (see :func:`relative_error`).
        fd_error: per-element estimated finite-difference error, or None.
        step: finite-difference step, or None.
        kink: bool mask of elements labelled ``kink`` (their numeric/tol
            already follow the kink rule), or None.
        extra_fail: bool mask of elements that failed a further rule.
        unit: what an element is ("elements" or "directions").
    Returns:
        TensorCheck.
    """
    analytic = np.asarray(analytic, dtype=float)
    numeric = np.broadcast_to(np.asarray(numeric, dtype=float), analytic.shape)
    tol = np.broadcast_to(np.asarray(tol, dtype=float), analytic.shape)
    err = np.abs(analytic - numeric)
    fails = err > tol
    if extra_fail is not None:
        fails = fails | extra_fail
    # Worst = largest error in units of its own tolerance; a failure by an
    # extra rule counts as infinitely bad so that it is the one shown.
    with np.errstate(invalid="ignore"):
        ratio = np.where(tol > 0, err / np.where(tol > 0, tol, 1),
                         np.where(err > 0, np.inf, 0))
    ratio = np.where(np.isnan(ratio), np.inf, ratio)
    if extra_fail is not None:
        ratio = np.where(extra_fail, np.inf, ratio)
    flat = int(np.argmax(ratio)) if analytic.size else 0
    worst = tuple(int(i) for i in np.unravel_index(flat, analytic.shape)) if analytic.size else ()

    def pick(a: ArrayLike) -> float:
        if not analytic.size:
            return float("nan")
        return float(np.asarray(a).reshape(-1)[flat])

    fd_err = None
    if fd_error is not None and analytic.size:
        fd_err = pick(np.broadcast_to(np.asarray(fd_error), analytic.shape))
    n_fail = int(fails.sum())
    return TensorCheck(
        activation=activation, oracle=oracle, tensor=tensor, shape=tuple(analytic.shape),
        checked=int(analytic.size), unit=unit,
        kinks=int(np.count_nonzero(kink)) if kink is not None else 0,
        failed=n_fail,
        max_abs=float(err.max()) if err.size else 0.0,
        max_rel=float(relative_error(analytic, numeric, rel_scale).max()) if err.size else 0.0,
        worst=worst, analytic=pick(analytic), numeric=pick(numeric), tolerance=pick(tol),
        fd_error=fd_err, step=step, verdict=FAIL if n_fail else PASS,
    )


def skipped(activation: str, oracle: str, tensor: str, shape: Sequence[int],
            note: str) -> TensorCheck:
    """A row for a check that does not apply (it neither passes nor fails)."""
    nan = float("nan")
    return TensorCheck(activation=activation, oracle=oracle, tensor=tensor,
                       shape=tuple(shape), checked=0, unit="elements", kinks=0, failed=0,
                       max_abs=nan, max_rel=nan, worst=(), analytic=nan, numeric=nan,
                       tolerance=nan, verdict=SKIP, note=note)


def all_passed(checks: Sequence[TensorCheck]) -> bool:
    """True when no row failed (skipped rows do not count against)."""
    return not any(c.verdict == FAIL for c in checks)


def to_dict(check: TensorCheck) -> dict[str, Any]:
    """A JSON-ready dict of one row (NaN becomes None; diagnoses as kind/detail objects)."""
    out = asdict(check)
    out["shape"] = list(check.shape)
    out["worst"] = list(check.worst)
    out["localised"] = None if check.localised is None else list(check.localised)
    out["diagnosis"] = [d.to_dict() for d in check.diagnosis]
    for key, value in out.items():
        if isinstance(value, float) and not np.isfinite(value):
            out[key] = None
    return out


Column = tuple[str, Callable[[TensorCheck], str]]

_COLUMNS: list[Column] = [
    # header, formatter of a TensorCheck; each column is as wide as its widest cell
    ("activation", lambda c: c.activation),
    ("oracle", lambda c: c.oracle),
    ("tensor", lambda c: c.tensor),
    ("checked", lambda c: f"{c.checked}" + ("d" if c.unit == "directions" else "")),
    ("kinks", lambda c: f"{c.kinks}"),
    ("max abs err", lambda c: _num(c.max_abs)),
    ("max rel err", lambda c: _num(c.max_rel)),
    ("worst", lambda c: _index(c.worst)),
    ("analytic", lambda c: _num(c.analytic, signed=True, digits=6)),
    ("numeric", lambda c: _num(c.numeric, signed=True, digits=6)),
    ("est FD err", lambda c: _num(c.fd_error) if c.fd_error is not None else "-"),
    ("tolerance", lambda c: _num(c.tolerance)),
    ("verdict", lambda c: c.verdict),
]


def _num(x: float | None, signed: bool = False, digits: int = 1) -> str:
    if x is None or not np.isfinite(x):
        return "-"
    return f"{x:+.{digits}e}" if signed else f"{x:.{digits}e}"


def _index(idx: Sequence[int]) -> str:
    return "[" + ",".join(str(i) for i in idx) + "]" if idx else "-"


def column_widths(checks: Sequence[TensorCheck]) -> list[int]:
    """Each column's width: its header's or its widest cell's, whichever is wider."""
    return [max([len(head)] + [len(f(c)) for c in checks]) for head, f in _COLUMNS]


def format_table(checks: Sequence[TensorCheck],
                 widths: Sequence[int] | None = None) -> str:
    """The rows as an aligned text table (one line per row; notes and
    diagnoses indented below).

    Args:
        widths: column widths (default: fitted to these rows); pass the
            widths of all rows to print parts of one table apart.
    """
    widths = list(widths) if widths is not None else column_widths(checks)
    head = "  ".join(h.ljust(w) for (h, _), w in zip(_COLUMNS, widths)).rstrip()
    lines = [head, "-" * len(head)]
    shown: set[int] = set()
    for c in checks:
        lines.append("  ".join(f(c).ljust(w) for (_, f), w in zip(_COLUMNS, widths)).rstrip())
        if c.note:
            lines.append(f"{'':12}note: {c.note}")
        # one tensor's failing rows share one diagnosis: print it under the first
        if c.diagnosis and id(c.diagnosis) not in shown:
            shown.add(id(c.diagnosis))
            for d in c.diagnosis:
                lines.append(f"{'':12}diagnosis: [{d.kind}] {d.detail}")
    return "\n".join(lines)
