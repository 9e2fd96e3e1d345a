"""Bring your own backprop: the suite's modes run on a user's ``loss_and_grads``.

The user's function is a black box, so each call is costly (a forward and a
backward pass), and no mode may call it once per parameter. The check first
finds out which function the user's loss is (:mod:`compare.gradcheck.lossmodel`):

* when it is the paper network's loss, or a multiple of it plus L2 penalties,
  its gradient is known per element, cheaply: from the paper loss's structured
  finite differences (mode full), the complex step (mode complex) or the
  twins' gradients (modes fast and sweep, for the diagnosis), mapped through
  the fitted formula. Where it *is* the paper's loss, the user's gradients are
  also compared with every registered twin's;
* in every case, the user's gradients are checked against finite differences
  of the user's own loss, called as it is, along random signed directions per
  tensor; a failing direction is bisected down to one coordinate.

Every failing tensor gets a diagnosis (:mod:`compare.gradcheck.diagnose`).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from compare.gradcheck import blackbox, full, kinks, oracles, sweep, wrongderiv
from compare.gradcheck import tolerance as T
from compare.gradcheck.complex_step import complex_step_gradients
from compare.gradcheck.diagnose import Candidate, Diagnosis, Evidence, Measured, diagnose
from compare.gradcheck.directional import direction_differences, random_directions
from compare.gradcheck.lossfn import Cache, build_cache, loss_value
from compare.gradcheck.lossmodel import LossModel, fit_loss_model
from compare.gradcheck.report import FAIL, TensorCheck, skipped
from compare.gradcheck.threads import one_blas_thread
from compare.gradcheck.twins import TWINS, Output, gradients, is_builtin, loss_and_grads
from compare.gradcheck.usertwin import UserTwin
from compare.twins import Params, flat_tensors, tensor_names
from manual import activations
from manual.activations import Activation

Tensors = list[NDArray[np.float64]]

# Directions per tensor along which the user's own loss is differentiated in
# mode full when that loss is of unknown form (the only check there is).
BLACK_BOX_DIRECTIONS = 32
# In mode sweep, directions per tensor for a loss of unknown form (each costs
# four calls of the user's function per step).
SWEEP_BLACK_BOX_DIRECTIONS = 2


@dataclass
class UserCheck:
    """What checking a user's function for one activation found.

    Attributes:
        rows: the table's rows.
        model: which function the user's loss is.
        calls: calls of the user's function.
        user_seconds: time spent inside it.
        seconds: time of the whole check.
        notes: anything else the reader should know.
        sweep_data: the curves in mode sweep ({tensor: curve}).
    """

    rows: list[TensorCheck]
    model: LossModel
    calls: int
    user_seconds: float
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    sweep_data: dict[str, object] = field(default_factory=dict)


@dataclass
class _Point:
    """The checked point and everything computed at it once."""

    user: UserTwin
    params: Params
    X: NDArray
    y: NDArray
    act: Activation
    arg: "str | Activation"     # the activation as the user's function (and a twin) receives it
    names: list[str]
    tensors: Tensors
    loss: float
    analytic: Tensors
    model: LossModel
    cache: Cache
    exact: list[NDArray] | None = None      # exact-kink masks, once mode full has them
    twin_out: dict[str, Output] = field(default_factory=dict)   # twins' outputs, by name

    @property
    def label(self) -> str:
        return self.act.name

    def user_loss(self, tensors: Tensors) -> float:
        return self.user.loss(pairs(tensors), self.X, self.y, self.arg)

    def paper_loss(self, tensors: Tensors) -> float:
        return float(loss_value(pairs(tensors), self.X, self.y, self.act))


def pairs(tensors: Tensors) -> Params:
    """[W1, b1, W2, b2, ...] -> [(W1, b1), (W2, b2), ...]."""
    return [(tensors[2 * k], tensors[2 * k + 1]) for k in range(len(tensors) // 2)]


def user_argument(activation: "str | Activation") -> "str | Activation":
    """What the user's function receives: the name of a built-in activation,
    else the activation object itself (with ``name``, ``fn``, ``deriv``)."""
    if isinstance(activation, str):
        return activation
    return activation.name if is_builtin(activation) else activation


def probe(user: UserTwin, sizes: list[int], batch: int,
          activations_: "tuple[str | Activation, ...]") -> None:
    """Call the user's function once per activation on random data of the checked
    shapes, so that an unusable file is refused before any long work.

    Raises:
        UserCodeError: it raised, or returned something unusable.
    """
    from compare.common.init import init_params
    rng = np.random.default_rng(0)
    params = init_params(sizes, init="xavier", seed=0)
    X, y = rng.random((batch, sizes[0])), rng.integers(0, sizes[-1], batch)
    for activation in activations_:
        user(params, X, y, user_argument(activation))


def check_user(user: UserTwin, params: Params, X: NDArray, y: NDArray,
               activation: "str | Activation", mode: str = "full", *, directions: int = 8,
               seed: int = 0, twins: tuple[str, ...] | None = None,
               h: float = T.STEP) -> UserCheck:
    """Run one mode on the user's function at (params, X, y).

    Args:
        user: the user's function.
        params: K pairs (W (n_k, n_{k+1}), b (n_{k+1},)), float64.
        X: (B, n_0) inputs; y: (B,) integer labels.
        activation: a built-in name or an Activation.
        mode: full, fast, sweep or complex.
        directions: random directions per tensor for the user's own loss.
        twins: registered twins to compare with when the losses agree.
    Returns:
        UserCheck.
    """
    with one_blas_thread():
        return _check_user(user, params, X, y, activation, mode, directions=directions,
                           seed=seed, twins=twins, h=h)


def _check_user(user: UserTwin, params: Params, X: NDArray, y: NDArray,
                activation: "str | Activation", mode: str, *, directions: int, seed: int,
                twins: tuple[str, ...] | None, h: float) -> UserCheck:
    """:func:`check_user`, under whatever BLAS threading the caller chose."""
    start = time.perf_counter()
    calls0, seconds0 = user.calls, user.seconds
    act = activations.get_activation(activation)
    arg = user_argument(activation)
    params = [(np.asarray(W, np.float64), np.asarray(b, np.float64)) for W, b in params]
    loss, analytic = user(params, X, y, arg)
    tensors = flat_tensors(params)
    names = tensor_names(params)
    point = _Point(user, params, X, y, act, arg, names, tensors, loss, analytic,
                   LossModel(names, False), build_cache(params, X, y, act))
    point.model = fit_loss_model(point.user_loss, point.paper_loss, tensors, names,
                                 batch=len(y), seed=seed,
                                 at_point=(loss, float(point.cache.loss)))
    run = {"full": _full, "fast": _fast, "sweep": _sweep, "complex": _complex}[mode]
    rows, measured, sweep_data = run(point, directions=directions, seed=seed, h=h)
    if point.model.equals_paper:
        rows += _versus_twins(point, twins)
    elif twins != ():
        rows.append(skipped(point.label, f"{user.name} vs twins", "all", (),
                            f"your loss is {point.model.describe()}, not the paper "
                            "network's loss, so the twins' gradients are not the ones to "
                            "match"))
    _attach_diagnoses(point, rows, measured)
    return UserCheck(rows=rows, model=point.model, calls=user.calls - calls0,
                     user_seconds=user.seconds - seconds0, seconds=time.perf_counter() - start,
                     notes=_notes(point), sweep_data=sweep_data)


# -- the modes -------------------------------------------------------------------

Result = tuple[list[TensorCheck], list[Measured], dict[str, object]]


def _full(point: _Point, *, directions: int, seed: int, h: float) -> Result:
    """Per element from the paper loss's differences (when the loss model fits),
    and the user's own loss along random directions."""
    rows: list[TensorCheck] = []
    if point.model.fits:
        fd_rows, measured = _per_element_fd(point, h)
        rows += fd_rows
        # the per-element rows already point at the worst element: no bisection
        dir_rows, _ = _own_loss(point, directions, seed, h, localise=False)
        return rows + dir_rows, measured, {}
    dir_rows, measured = _own_loss(point, max(directions, BLACK_BOX_DIRECTIONS), seed, h)
    return dir_rows, measured, {}


def _fast(point: _Point, *, directions: int, seed: int, h: float) -> Result:
    """The user's own loss along random directions; per-element evidence from a twin."""
    rows, measured = _own_loss(point, directions, seed, h)
    if point.model.fits:
        measured = _twin_evidence(point, h)
    return rows, measured, {}


def _complex(point: _Point, *, directions: int, seed: int, h: float) -> Result:
    """The complex step of the user's loss as fitted (analytic activations only)."""
    if point.cache.act.kink is not None or not point.model.fits:
        why = (f"{point.label} has a kink, so no complex extension"
               if point.cache.act.kink is not None else
               f"your loss is {point.model.describe()}: it cannot be evaluated at complex "
               "parameters")
        rows = [skipped(point.label, f"{point.user.name} vs complex", "all", (),
                        f"{why}; checked along random directions instead")]
        dir_rows, measured = _own_loss(point, directions, seed, h)
        if point.model.fits:
            measured = _twin_evidence(point, h)
        return rows + dir_rows, measured, {}
    model = point.model
    numeric = model.gradient(complex_step_gradients(point.cache), point.tensors)
    tol = [np.full(n.shape, T.COMPLEX_TOL * max(1.0, float(np.abs(n).max(initial=0.0))))
           for n in numeric]
    rows = oracles.numeric_rows(point.label, f"{point.user.name} vs complex", point.names,
                                point.analytic, numeric, tol,
                                rel_scales=[T.COMPLEX_TOL] * len(numeric),
                                step=T.COMPLEX_STEP)
    dir_rows, _ = _own_loss(point, directions, seed, h)
    return rows + dir_rows, [Measured(n, t) for n, t in zip(numeric, tol)], {}


def _sweep(point: _Point, *, directions: int, seed: int, h: float) -> Result:
    """Error against step along random directions of the user's loss."""
    rng = np.random.default_rng([int(seed), 0x5EE9])
    count = sweep.DIRECTIONS if point.model.fits else SWEEP_BLACK_BOX_DIRECTIONS
    rows: list[TensorCheck] = []
    data: dict[str, object] = {}
    for t, name in enumerate(point.names):
        V = random_directions(point.tensors[t].shape, count, rng)
        grad = point.analytic[t]
        if grad.shape != point.tensors[t].shape:
            rows.append(oracles.shape_mismatch(point.label, f"{point.user.name} vs FD", name,
                                               grad, point.tensors[t]))
            continue
        curve = sweep.sweep_tensor(point.cache, t, V, grad, changes=_changes(point, t, V),
                                   loss=point.loss, find_kinks=not point.model.fits)
        rows.append(sweep.sweep_row(point.label, f"{point.user.name} vs FD", name, curve,
                                    count=count))
        data[name] = {"h": sweep.STEPS.tolist(),
                      **{k: np.asarray(v).tolist() for k, v in curve.items()}}
    if point.model.fits:
        measured = _twin_evidence(point, h)
    elif any(row.verdict == FAIL for row in rows):
        # the diagnosis's evidence: only its measurements are used, no bisection
        measured = _own_loss(point, directions, seed, h, localise=False)[1]
    else:
        measured = []       # nothing to diagnose: spare the user's function the calls
    return rows, measured, data


def _changes(point: _Point, t: int, V: NDArray) -> sweep.Changes:
    """The user's loss's changes along V: from the fitted formula when it fits
    (precise, with the paper network's kinks), else by calling the user's
    function (its kinks are then found from its values, by the sweep)."""
    model = point.model
    if model.fits:
        paper = sweep.paper_changes(point.cache, t, V)
        theta = point.tensors[t]
        along = np.tensordot(V, theta, axes=theta.ndim)                     # <theta, v>
        sq = np.tensordot(V, V, axes=(tuple(range(1, V.ndim)),) * 2).diagonal()   # |v|^2

        def fitted(steps: NDArray) -> tuple[NDArray, bool]:
            dL, crossed = paper(steps)
            s = steps[:, None]
            penalty = model.penalty[t] * (s * along[None] + 0.5 * s * s * sq[None])
            return model.scale * dL + penalty, crossed
        return fitted

    def called(steps: NDArray) -> tuple[NDArray, bool]:
        return blackbox.loss_changes(point.user_loss, point.tensors, point.loss, t, V,
                                     steps), False
    return called


# -- the oracles -----------------------------------------------------------------

def _per_element_fd(point: _Point, h: float) -> tuple[list[TensorCheck], list[Measured]]:
    """Every element against the paper loss's differences mapped through the loss model."""
    model, tensors = point.model, point.tensors
    cache, diffs, kink, exact = full.cache_differences(point.cache, h)
    point.exact = exact
    pinned: list = [None] * len(tensors)
    if any(e.any() for e in exact):
        pinned = full.pinned_differences(cache, exact, kinks.documented_slope(point.act), h)
    in_paper = model.to_paper(point.analytic, tensors)
    numeric, tol, errors = [], [], []
    for t, theta in enumerate(tensors):
        if in_paper[t].shape == theta.shape:
            n, tl, e = kinks.apply_kink_rules(in_paper[t], diffs[t], kink[t], exact[t],
                                              pinned[t], cache.loss)
        else:       # a shape finding; these values serve the diagnosis only
            n, e = diffs[t].numeric, diffs[t].error
            tl = T.fd_tolerance(e, T.floor(cache.loss, h))
        numeric.append(model.scale * n + model.penalty[t] * theta)
        # the penalty's own rounding: a few eps of its size
        tol.append(abs(model.scale) * tl + 4 * T.EPS * np.abs(model.penalty[t] * theta))
        errors.append(abs(model.scale) * e)
    floor = abs(model.scale) * T.floor(cache.loss, h)
    rows = oracles.numeric_rows(point.label, f"{point.user.name} vs FD", point.names,
                                point.analytic, numeric, tol, rel_scales=[floor] * len(tensors),
                                errors=errors, step=h, kinks=kink)
    measured = [Measured(n, tl, None, k | e) for n, tl, k, e in zip(numeric, tol, kink, exact)]
    return rows, measured


def _twin_evidence(point: _Point, h: float) -> list[Measured]:
    """The true gradient per element from the manual twin through the loss model.

    Its tolerance is the rounding floor of the finite differences the check
    otherwise uses: the diagnosis claims nothing finer than they could tell.
    """
    true = point.model.gradient(_twin_output(point, "manual")[1], point.tensors)
    floor = abs(point.model.scale) * T.floor(point.cache.loss, h)
    return [Measured(g, np.full(g.shape, floor)) for g in true]


def _own_loss(point: _Point, count: int, seed: int, h: float,
              localise: bool = True) -> tuple[list[TensorCheck], list[Measured]]:
    """The user's gradients along ``count`` random directions per tensor against
    differences of the user's own loss; failures bisected to a coordinate."""
    rng = np.random.default_rng([int(seed), 0xB10C])
    oracle = f"{point.user.name} vs own loss"
    rows: list[TensorCheck] = []
    measured: list[Measured] = []
    track = point.model.fits and point.cache.act.kink is not None
    for t, name in enumerate(point.names):
        theta, grad = point.tensors[t], point.analytic[t]
        V = random_directions(theta.shape, count, rng)
        if grad.shape != theta.shape:
            rows.append(oracles.shape_mismatch(point.label, oracle, name, grad, theta))
            measured.append(_measured_without(point, t, V, h))
            continue
        kink = None
        if track:           # the paper network's kinks are the user's (same function)
            _, crossed, touched = direction_differences(point.cache, t, V, h)
            kink = crossed | touched
        d = blackbox.measure(point.user_loss, point.tensors, point.loss, t, V, grad, h, kink)
        row = oracles.numeric_rows(point.label, oracle, [name], [d.analytic], [d.numeric], [d.tol],
                                   rel_scales=[T.floor(point.loss, h)], errors=[d.error],
                                   step=h, kinks=[kink], unit="directions")[0]
        if row.verdict == FAIL and localise:
            index, a, n = blackbox.localise(point.user_loss, point.tensors, point.loss, t,
                                            V[row.worst[0]], grad, h)
            row.note = (f"direction {row.worst[0]} bisected to {name}"
                        f"[{','.join(map(str, index))}]: yours {a:+.6e}, your loss's "
                        f"{n:+.6e}")
            row.localised = index
        rows.append(row)
        measured.append(Measured(d.numeric, d.tol, V, kink))
    return rows, measured


def _measured_without(point: _Point, t: int, V: NDArray, h: float) -> Measured:
    """Directional measurements of tensor t's true gradient (the user's is misshapen)."""
    zero = np.zeros(point.tensors[t].shape)
    d = blackbox.measure(point.user_loss, point.tensors, point.loss, t, V, zero, h)
    return Measured(d.numeric, d.tol, V)


def _twin_output(point: _Point, twin: str) -> Output:
    """A twin's loss and gradients at the point, computed once."""
    if twin not in point.twin_out:
        point.twin_out[twin] = gradients(loss_and_grads(twin), point.params, point.X, point.y,
                                         point.arg)
    return point.twin_out[twin]


def _versus_twins(point: _Point, twins: tuple[str, ...] | None) -> list[TensorCheck]:
    """The user's gradients against each registered twin's, element by element."""
    outs = {twin: _twin_output(point, twin) for twin in (TWINS if twins is None else twins)}
    unmatched, note = full.twin_unmatched(point.arg, point.cache,
                                          (point.user.name, *outs), point.exact)
    mine = (point.loss, point.analytic)
    rows = []
    for twin, out in outs.items():
        rows += oracles.pair_against(point.label, point.names, f"{point.user.name} vs {twin}",
                                     mine, out, unmatched.get((point.user.name, twin)), note)
    return rows


# -- the diagnosis ---------------------------------------------------------------

def _attach_diagnoses(point: _Point, rows: list[TensorCheck], measured: list[Measured]) -> None:
    """Give every failing tensor row its diagnosis.

    The costly evidence is computed once (``evidence`` keeps it); a tensor's
    rows with the same diagnosis share one list, which the table prints once.
    """
    evidence = _evidence(point, measured)
    found: dict[tuple[str, tuple[tuple[str, str], ...]], list[Diagnosis]] = {}
    for row in rows:
        if row.verdict != FAIL or row.tensor not in point.names:
            continue
        diagnoses = diagnose(evidence, point.names.index(row.tensor), row.oracle)
        key = (row.tensor, tuple((d.kind, d.detail) for d in diagnoses))
        row.diagnosis = found.setdefault(key, diagnoses)


def _evidence(point: _Point, measured: list[Measured]) -> Evidence:
    model = point.model
    manual = loss_and_grads("manual")

    def user_space(act: Activation) -> Tensors:
        with np.errstate(all="ignore"):
            _, grads = manual(point.params, point.X, point.y, act)
        return model.gradient([np.array(g, np.float64) for g in flat_tensors(grads)],
                              point.tensors)

    def candidates(make: Callable[[Activation], list]) -> Callable[[], list[Candidate]]:
        return lambda: [(key, text, user_space(act)) for key, text, act in make(point.act)]

    def per_sample() -> list[Tensors]:
        out = []
        for b in range(len(point.y)):
            _, grads = manual(point.params, point.X[b:b + 1], point.y[b:b + 1], point.arg)
            out.append([np.array(g, np.float64) for g in flat_tensors(grads)])
        return out

    fits = model.fits
    return Evidence(names=point.names, analytic=point.analytic, tensors=point.tensors,
                    measured=measured, batch=len(point.y), activation=point.label,
                    model=model,
                    candidates=candidates(wrongderiv.wrong_derivatives) if fits else None,
                    kink_candidates=candidates(wrongderiv.wrong_kink_slopes) if fits else None,
                    per_sample=per_sample if fits else None)


def _notes(point: _Point) -> list[str]:
    """What the reader should know beyond the table: float32 gradients, an
    activation argument the user's function seems to ignore."""
    notes = []
    if not point.model.fits:
        for name, act in activations.ACTIVATIONS.items():
            if act is point.act:
                continue
            other = float(loss_value(point.params, point.X, point.y, act))
            if abs(other - point.loss) <= point.model.tolerance:
                notes.append(f"your loss is the paper network's loss with {name}, not with "
                             f"{point.label}: does your function ignore its activation "
                             "argument?")
    low = sorted(d for d in point.user.dtypes if d in ("float16", "float32"))
    if low:
        notes.append(f"your gradients come back as {', '.join(low)}; the check works in "
                     "float64 and counts their rounding (about 1e-7 relative) as error")
    return notes
