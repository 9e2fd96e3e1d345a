"""Say what is wrong with a failing gradient tensor, from the numbers alone.

Each *kind* of bug is a hypothesis about how the user's tensor ``A`` relates
to the true gradient ``N`` (the one the finite differences measure):

=====================  ===========================================================
kind                   hypothesis
=====================  ===========================================================
zero                   A = 0 where N is not
sign                   A = -N
scale                  A = c N for one constant c (named when it is a count: 1/B ...)
transpose              A = N transposed (or: A has the transposed shape)
swap                   A is the true gradient of another tensor
regularization         A - N = lambda theta: a penalty's gradient missing or extra
kink                   A differs only where a pre-activation sits on the kink
activation_derivative  A is what a wrong g' gives (g for g', g'(a) for g'(z), ...)
partial                A is wrong only on some samples, rows, columns or units
other                  none of these; then what was measured
=====================  ===========================================================

A kind is claimed only when it explains the error to within the finite
difference's own error: the prediction it makes must meet the very tolerance
each element (or direction) was checked with. The hypotheses are tested in
the order of the table; the first that explains the error is reported.

The true gradient may be known per element (the finite differences of every
parameter, or a twin's gradient when the user's loss is the paper's) or only
along random directions (a user's loss of unknown form); :class:`Measured`
hides which, so every test is written once: a hypothesis predicts a tensor,
which is *measured* the same way the true gradient was, and compared.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from compare.gradcheck.lossmodel import LossModel
from compare.gradcheck.twins import TWINS

KINDS = ("scale", "sign", "transpose", "zero", "swap", "activation_derivative",
         "regularization", "kink", "partial", "other")

Tensors = list[NDArray[np.float64]]
# (kind, text that names the wrong g', the predicted user tensors [W1, b1, ...])
Candidate = tuple[str, str, Tensors]


@dataclass
class Diagnosis:
    """One explanation of a failing tensor.

    Attributes:
        kind: one of :data:`KINDS`.
        detail: what the numbers say, in words.
        values: the fitted numbers behind it (a constant, samples, indices...).
    """

    kind: str
    detail: str
    values: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: kind, detail and the values."""
        return {"kind": self.kind, "detail": self.detail, **self.values}


@dataclass
class Measured:
    """The true gradient of one tensor as the check measured it.

    Attributes:
        numeric: per element (the tensor's shape) or per direction (K,).
        tol: the pass threshold of each measurement, same shape.
        directions: None when measured per element; else (K, *shape) unit
            directions, and ``numeric`` holds <N, v> for each.
        kink: bool per measurement: its step crossed or touched a kink (or None).
    """

    numeric: NDArray
    tol: NDArray
    directions: NDArray | None = None
    kink: NDArray | None = None

    def measure(self, tensor: NDArray) -> NDArray:
        """``tensor`` measured like the true gradient: itself, or <tensor, v> per direction."""
        if self.directions is None:
            return tensor
        return np.tensordot(self.directions, tensor, axes=tensor.ndim)

    def explains(self, prediction: NDArray, slack: float = 1.0) -> bool:
        """The predicted true gradient meets every measurement's tolerance (x slack)."""
        return bool(np.all(np.abs(self.measure(prediction) - self.numeric)
                           <= slack * self.tol))

    @property
    def per_element(self) -> bool:
        return self.directions is None


@dataclass
class Evidence:
    """Everything a diagnosis is fitted from.

    Attributes:
        names: tensor names [W1, b1, ...].
        analytic: the user's tensors (any shapes).
        tensors: the parameter values theta, [W1, b1, ...].
        measured: the true gradient of each tensor as measured.
        batch: the batch size B.
        activation: the hidden activation's name.
        model: the user's loss as fitted (None when unknown).
        candidates: lazily, the user tensors a wrong g' would give.
        kink_candidates: lazily, the user tensors another g'(kink) would give.
        per_sample: lazily, each sample's own gradient of the paper loss
            (B lists of tensors), for the samples test.
    """

    names: list[str]
    analytic: Tensors
    tensors: Tensors
    measured: list[Measured]
    batch: int
    activation: str
    model: LossModel | None = None
    candidates: Callable[[], list[Candidate]] | None = None
    kink_candidates: Callable[[], list[Candidate]] | None = None
    per_sample: Callable[[], list[Tensors]] | None = None
    _cache: dict[str, object] = field(default_factory=dict, repr=False)

    def lazy(self, key: str, make: Callable[[], object]) -> object:
        """``make()`` computed once."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]


def diagnose(ev: Evidence, t: int, oracle: str = "") -> list[Diagnosis]:
    """The diagnoses of tensor ``t`` (usually one; two for a shape finding plus a kind).

    Args:
        oracle: the failing row's oracle ("<yours> vs <what>"): when no kind
            is needed to explain the measurements, the text says which check
            failed.
    """
    A, theta = ev.analytic[t], ev.tensors[t]
    if A.shape != theta.shape:
        return _shape_finding(ev, t)
    if not np.all(np.isfinite(A)):
        where = _index(np.argwhere(~np.isfinite(A))[0])
        return [Diagnosis("other", f"grad {ev.names[t]} holds NaN or infinity (first at "
                                   f"{ev.names[t]}{where}): an overflow, a log of 0 or a "
                                   "division by 0 in the backward pass",
                          {"nonfinite": int(np.sum(~np.isfinite(A)))})]
    return [_kind_of(ev, t, A, oracle)]


def _kind_of(ev: Evidence, t: int, A: NDArray, oracle: str = "") -> Diagnosis:
    """The first kind that explains A, else ``other``."""
    m = ev.measured[t]
    if m.explains(A):
        return _within_fd_error(ev.names[t], oracle)
    for test in (_zero, _sign_or_scale, _transpose, _swap, _regularization, _kink,
                 _activation_derivative, _samples, _partial):
        found = test(ev, t, A)
        if found is not None:
            return found
    return _other(ev, t, A)


def _within_fd_error(name: str, oracle: str) -> Diagnosis:
    """The measurements hold no error: say which check failed all the same."""
    within = (f"grad {name} is within the finite difference's own error of the true "
              "gradient everywhere")
    if oracle.rpartition(" vs ")[2] in TWINS:
        return Diagnosis("other", f"{within}; only the stricter comparison with the twins' "
                                  "exact gradients fails, by more than rounding (float32 "
                                  "arithmetic, or a small constant added somewhere, such as "
                                  "log(p + 1e-8)?)")
    failed = f"the check {oracle}" if oracle else "another check"
    return Diagnosis("other", f"{within} the diagnosis measured; {failed} fails all the "
                              "same (see its note), and no kind of bug explains that")


# -- the kinds -------------------------------------------------------------------

def _zero(ev: Evidence, t: int, A: NDArray) -> Diagnosis | None:
    m = ev.measured[t]
    if np.any(A != 0) and not np.all(np.abs(m.measure(A)) <= 1e-3 * m.tol):
        return None
    if not np.any(np.abs(m.numeric) > m.tol):
        return None
    big = float(np.abs(m.numeric).max())
    what = "all zeros" if not np.any(A) else "zero to within rounding"
    return Diagnosis("zero", f"grad {ev.names[t]} is {what}, but the true gradient is not "
                             f"(up to {big:.2e} in size): it is never computed, or it is "
                             "reset or overwritten after it is computed",
                     {"largest_true": big})


def _scale_explains(m: Measured, A: NDArray, c: float) -> bool:
    """A = c N within tolerance: |A - c N| <= |c| tol, i.e. N = A / c within tol."""
    return c != 0 and m.explains(A / c)


def _sign_or_scale(ev: Evidence, t: int, A: NDArray) -> Diagnosis | None:
    m, name = ev.measured[t], ev.names[t]
    if _scale_explains(m, A, -1.0):
        return Diagnosis("sign", f"grad {name} = -1 x the true gradient: every element has the "
                                 "wrong sign (the error signal taken as y - p instead of "
                                 "p - y, or a minus sign of the update folded into the "
                                 "gradient)", {"c": -1.0})
    for c, text in _named_constants(ev):
        if _scale_explains(m, A, c):
            return Diagnosis("scale", f"grad {name} = c x the true gradient with {text}",
                             {"c": c})
    num = m.numeric.ravel()
    denom = float(num @ num)
    if denom == 0:
        return None
    c = float(m.measure(A).ravel() @ num) / denom
    if not np.isfinite(c) or c == 0 or not _scale_explains(m, A, c):
        return None
    sign = " (and the wrong sign)" if c < 0 else ""
    return Diagnosis("scale", f"grad {name} = c x the true gradient with c = {c:.6g}{sign}, "
                              f"one constant for every element; it is no count of the "
                              f"network (batch {ev.batch}): look for a stray constant factor",
                     {"c": c})


def _named_constants(ev: Evidence) -> list[tuple[float, str]]:
    """Constants a scale bug usually is, with what each means."""
    B = ev.batch
    summed = ev.model is not None and ev.model.fits and ev.model.scale == B
    out = []
    if not summed:
        out.append((float(B), f"c = {B} = the batch size: the 1/B factor is missing (you "
                              "return the gradient of the loss summed over the batch, "
                              "but the loss is its mean)"))
        out.append((1.0 / B, f"c = 1/{B} = 1/(the batch size): the gradient is divided by "
                             "the batch size twice"))
    else:
        out.append((1.0 / B, f"c = 1/{B}: your loss is the sum over the batch (B = {B} x "
                             "the mean), but your gradient is that of the mean: divide the "
                             "loss by B, or drop the 1/B from the gradient"))
        out.append((float(B), f"c = {B} = the batch size, on top of a loss that is already "
                              "the sum over the batch"))
    out.append((2.0, "c = 2: twice the true gradient (a factor 2 of a square's derivative, "
                     "or a term counted twice)"))
    out.append((0.5, "c = 1/2: half the true gradient (a factor 1/2 kept, or a term "
                     "counted once that belongs twice)"))
    return [(c, text) for c, text in out if c != 1.0]


def _transpose(ev: Evidence, t: int, A: NDArray) -> Diagnosis | None:
    if A.ndim != 2 or A.shape[0] != A.shape[1] or not ev.measured[t].explains(A.T):
        return None
    name = ev.names[t]
    return Diagnosis("transpose", f"grad {name} is the true gradient transposed: dW must have "
                                  f"W's layout (n_in, n_out), x.T @ delta, not delta.T @ x "
                                  f"({name} is square, so the shapes could not tell)")


def _swap(ev: Evidence, t: int, A: NDArray) -> Diagnosis | None:
    for u, (other, m) in enumerate(zip(ev.tensors, ev.measured)):
        if u == t or other.shape != A.shape or not np.any(np.abs(m.numeric) > m.tol):
            continue
        if m.explains(A):
            return Diagnosis("swap", f"grad {ev.names[t]} holds the true gradient of "
                                     f"{ev.names[u]}: {_swap_words(ev.names[t], ev.names[u])}",
                             {"with": ev.names[u]})
    return None


def _swap_words(a: str, b: str) -> str:
    if a[1:] == b[1:]:
        return (f"the weight and bias gradients of layer {a[1:]} are swapped (return "
                "(dW, db) in that order)")
    return (f"the gradients of layers {a[1:]} and {b[1:]} are swapped (the backward pass "
            "runs from the last layer to the first; return them first to last)")


def _regularization(ev: Evidence, t: int, A: NDArray) -> Diagnosis | None:
    m, theta, name = ev.measured[t], ev.tensors[t], ev.names[t]
    p = m.measure(theta).ravel()
    if not np.any(p):
        return None
    diff = m.measure(A).ravel() - m.numeric.ravel()
    lam = float(diff @ p) / float(p @ p)
    if not np.isfinite(lam) or lam == 0 or not m.explains(A - lam * theta):
        return None
    mu = ev.model.penalty[t] if ev.model is not None and ev.model.fits else 0.0
    values: dict[str, object] = {"coefficient": lam}
    if mu and abs(lam + mu) <= 1e-6 * abs(mu):
        text = (f"your loss adds {mu / 2:.6g} ||{name}||^2, but grad {name} leaves out its "
                f"gradient {mu:.6g} x {name}")
    elif mu and abs(lam + mu / 2) <= 1e-6 * abs(mu):
        text = (f"your loss adds {mu / 2:.6g} ||{name}||^2, whose gradient is {mu:.6g} x "
                f"{name}; grad {name} has only half of it (the derivative of "
                f"lambda ||W||^2 is 2 lambda W)")
    elif mu and abs(lam - mu) <= 1e-6 * abs(mu):
        text = f"grad {name} has the penalty's gradient {mu:.6g} x {name} twice"
    elif lam > 0:
        text = (f"grad {name} has an extra {lam:.6g} x {name}: the gradient of a penalty "
                f"{lam / 2:.6g} ||{name}||^2 that your loss does not have")
    else:
        text = (f"grad {name} lacks {-lam:.6g} x {name}: the gradient of a penalty "
                f"{-lam / 2:.6g} ||{name}||^2 is missing")
    return Diagnosis("regularization", f"grad {name} - true gradient = {lam:.6g} x {name}: "
                                       f"{text}", values)


def _kink(ev: Evidence, t: int, A: NDArray) -> Diagnosis | None:
    m, name = ev.measured[t], ev.names[t]
    if ev.kink_candidates is not None:
        for _, text, predicted in _lazy_list(ev, "kink", ev.kink_candidates):
            P = predicted[t]
            if P.shape == A.shape and not m.explains(P) and _close(m, A, P):
                n = int(np.sum(np.abs(m.measure(A) - m.numeric) > m.tol))
                return Diagnosis("kink", f"grad {name} is wrong only where a pre-activation "
                                         f"sits exactly on {ev.activation}'s kink ({n} "
                                         f"{_unit(m)}): {text}", {"wrong": n})
    if m.kink is None or not np.any(m.kink):
        return None
    bad = np.abs(m.measure(A) - m.numeric) > m.tol
    if np.any(bad & ~m.kink):
        return None
    return Diagnosis("kink", f"grad {name} is wrong only at {int(bad.sum())} {_unit(m)} whose "
                             f"finite-difference step crosses {ev.activation}'s kink, and right "
                             "everywhere else: there your value lies outside the one-sided "
                             "slopes (check g' next to the kink: z > 0 against z >= 0)",
                     {"wrong": int(bad.sum())})


def _activation_derivative(ev: Evidence, t: int, A: NDArray) -> Diagnosis | None:
    if ev.candidates is None:
        return None
    m, name = ev.measured[t], ev.names[t]
    for key, text, predicted in _lazy_list(ev, "candidates", ev.candidates):
        P = predicted[t]
        if P.shape != A.shape or m.explains(P):
            continue        # that g' does not change this tensor
        if _close(m, A, P):
            return Diagnosis("activation_derivative", f"grad {name} is exactly what a wrong "
                                                      f"g' gives: {text}", {"derivative": key})
    return None


def _close(m: Measured, A: NDArray, P: NDArray) -> bool:
    """A and P agree within the tolerance of each measurement."""
    return bool(np.all(np.abs(m.measure(A) - m.measure(P)) <= m.tol))


def _samples(ev: Evidence, t: int, A: NDArray) -> Diagnosis | None:
    """A = the batch mean with some samples left out (weight 0) or repeated (2, 3...).

    The weights are fitted to every tensor at once (a sample a loop skips is
    skipped for all of them), else to this tensor alone.
    """
    model = ev.model
    if ev.per_sample is None or model is None or not model.fits:
        return None
    m, name = ev.measured[t], ev.names[t]
    grads = _lazy_list(ev, "per_sample", ev.per_sample)
    B = len(grads)
    joint = ev.lazy("sample_weights", lambda: _sample_weights(ev, grads, range(len(ev.names))))
    assert isinstance(joint, np.ndarray) or joint is None
    for weights in (joint, _sample_weights(ev, grads, [t])):
        if weights is None or np.all(weights == 1) or np.any(weights < 0):
            continue
        predicted = (model.scale / B * np.tensordot(weights, np.stack([g[t] for g in grads]),
                                                    axes=1) + model.penalty[t] * ev.tensors[t])
        if _close(m, A, predicted):
            return _samples_text(name, weights, B)
    return None


def _sample_weights(ev: Evidence, grads: list[Tensors],
                    which: "range | list[int]") -> NDArray | None:
    """Whole-number weights w with A_t = a/B sum_b w_b g_bt + mu_t theta_t, fitted to
    the tensors ``which`` (least squares, then rounded), or None if underdetermined."""
    model = ev.model
    assert model is not None
    B = len(grads)
    columns, target = [], []
    for t in which:
        A, m = ev.analytic[t], ev.measured[t]
        if A.shape != ev.tensors[t].shape:
            continue
        columns.append(np.stack([m.measure(g[t]).ravel() for g in grads], axis=1))
        target.append(m.measure(A - model.penalty[t] * ev.tensors[t]).ravel() * B / model.scale)
    if not columns:
        return None
    G, rhs = np.concatenate(columns), np.concatenate(target)
    if G.shape[0] < B or np.linalg.matrix_rank(G) < B:
        return None
    return np.asarray(np.round(np.linalg.lstsq(G, rhs, rcond=None)[0]))


def _samples_text(name: str, weights: NDArray, B: int) -> Diagnosis:
    left_out = [int(b) for b in np.flatnonzero(weights == 0)]
    extra = {int(b): int(weights[b]) for b in np.flatnonzero(weights > 1)}
    parts = []
    if left_out:
        hint = " (a loop that stops one short: range(B - 1)?)" if left_out == [B - 1] else ""
        parts.append(f"leaves out sample{'s' * (len(left_out) > 1)} {_list(left_out)} of the "
                     f"batch of {B}{hint}")
    if extra:
        parts.append("counts " + ", ".join(f"sample {b} {k} times" for b, k in extra.items()))
    return Diagnosis("partial", f"grad {name} is the batch mean of the per-sample gradients "
                                f"except that it {' and '.join(parts)}",
                     {"samples_left_out": left_out, "samples_repeated": extra})


def _partial(ev: Evidence, t: int, A: NDArray) -> Diagnosis | None:
    m, name = ev.measured[t], ev.names[t]
    if not m.per_element:
        return None
    bad = np.abs(A - m.numeric) > m.tol
    live = (np.abs(m.numeric) > m.tol) | (A != 0)
    n_bad = int(bad.sum())
    if A.ndim == 1:
        units = np.flatnonzero(bad)
        if len(units) >= max(1, int(live.sum())):
            return None
        return Diagnosis("partial", f"grad {name} is wrong only at unit{'s' * (n_bad > 1)} "
                                    f"{_list(units)} (of {A.size}); every other unit is right"
                                    f"{_worst_text(name, A, m.numeric, bad)}",
                         {"units": [int(u) for u in units]})
    rows = np.flatnonzero(bad.any(axis=1))
    cols = np.flatnonzero(bad.any(axis=0))
    live_rows = int(live.any(axis=1).sum())
    live_cols = int(live.any(axis=0).sum())
    if n_bad == 1:
        return Diagnosis("partial", f"grad {name} is wrong at one element only"
                                    f"{_worst_text(name, A, m.numeric, bad)}",
                         {"elements": [[int(rows[0]), int(cols[0])]]})
    row_share = len(rows) / max(live_rows, 1)
    col_share = len(cols) / max(live_cols, 1)
    if min(row_share, col_share) >= 1:
        return None
    if col_share <= row_share:
        return Diagnosis("partial", f"grad {name} is wrong only in column"
                                    f"{'s' * (len(cols) > 1)} {_list(cols)} (output unit"
                                    f"{'s' * (len(cols) > 1)} of the layer; {len(cols)} of "
                                    f"{A.shape[1]}); the other columns are right"
                                    f"{_worst_text(name, A, m.numeric, bad)}",
                         {"columns": [int(c) for c in cols]})
    return Diagnosis("partial", f"grad {name} is wrong only in row{'s' * (len(rows) > 1)} "
                                f"{_list(rows)} (input unit{'s' * (len(rows) > 1)} of the "
                                f"layer; {len(rows)} of {A.shape[0]}); the other rows are right"
                                f"{_worst_text(name, A, m.numeric, bad)}",
                     {"rows": [int(r) for r in rows]})


def _other(ev: Evidence, t: int, A: NDArray) -> Diagnosis:
    m, name = ev.measured[t], ev.names[t]
    a = m.measure(A).ravel()
    num = m.numeric.ravel()
    bad = np.abs(a - num) > m.tol.ravel()
    err = np.abs(a - num)
    i = int(np.argmax(err))
    size = float(np.abs(num).max())
    denom = float(num @ num)
    c = float(a @ num) / denom if denom else float("nan")
    resid = float(np.abs(a - c * num).max()) if denom else float("nan")
    where = (f"{name}{_index(np.unravel_index(i, A.shape))}" if m.per_element
             else f"direction {i}")
    tested = ("zero, sign, scale, transpose, swap, regularization, kink, activation_"
              "derivative, partial" if ev.model is not None and ev.model.fits else
              "zero, sign, scale, transpose, swap, regularization (your loss is not the "
              "paper network's, so the kinds that need its structure were not tested)")
    return Diagnosis("other", f"no single kind explains it ({tested}). Measured: "
                              f"{int(bad.sum())} of {bad.size} {_unit(m)} off; the largest "
                              f"error {err[i]:.2e} at {where} (yours {a[i]:+.6e}, true "
                              f"{num[i]:+.6e}), {err.max() / size if size else np.inf:.2g} "
                              f"of the true gradient's largest element; the best single "
                              f"factor c = {c:.4g} still leaves {resid:.2e}",
                     {"failed": int(bad.sum()), "measured": int(bad.size),
                      "max_error": float(err[i]), "best_c": c})


# -- helpers ---------------------------------------------------------------------

def _lazy_list(ev: Evidence, key: str, make: Callable[[], list]) -> list:
    out = ev.lazy(key, make)
    assert isinstance(out, list)
    return out


def _shape_finding(ev: Evidence, t: int) -> list[Diagnosis]:
    A, theta, name = ev.analytic[t], ev.tensors[t], ev.names[t]
    said = f"grad {name} has shape {A.shape}, {name} has {theta.shape}"
    if A.shape == theta.shape[::-1] and A.ndim == 2:
        if ev.measured[t].explains(A.T):
            return [Diagnosis("transpose", f"{said}: transposed; its transpose is the true "
                                           f"gradient (dW = x.T @ delta has W's layout "
                                           f"(n_in, n_out))")]
        return [Diagnosis("transpose", f"{said}: transposed, and wrong beyond that:"),
                _kind_of(ev, t, A.T)]
    for u, (other, m) in enumerate(zip(ev.tensors, ev.measured)):
        if u != t and other.shape == A.shape and m.explains(A):
            return [Diagnosis("swap", f"{said}, the shape of {ev.names[u]}, and it holds "
                                      f"{ev.names[u]}'s true gradient: "
                                      f"{_swap_words(name, ev.names[u])}",
                              {"with": ev.names[u]})]
    return [Diagnosis("other", f"{said}: a gradient has the shape of its parameter "
                               f"(dW: (n_in, n_out), db: (n_out,))",
                      {"shape": list(A.shape), "expected": list(theta.shape)})]


def _unit(m: Measured) -> str:
    return "elements" if m.per_element else "directions"


def _index(idx: object) -> str:
    return "[" + ",".join(str(int(i)) for i in np.atleast_1d(np.asarray(idx))) + "]"


def _list(values: object, limit: int = 8) -> str:
    items = [int(v) for v in np.atleast_1d(np.asarray(values))]
    text = ", ".join(map(str, items[:limit]))
    return f"[{text}{', ...' if len(items) > limit else ''}]"


def _worst_text(name: str, A: NDArray, numeric: NDArray, bad: NDArray) -> str:
    err = np.where(bad, np.abs(A - numeric), -1.0)
    i = np.unravel_index(int(np.argmax(err)), A.shape)
    return (f"; worst {name}{_index(i)}: yours {float(A[i]):+.6e}, true "
            f"{float(numeric[i]):+.6e}")
