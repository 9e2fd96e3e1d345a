"""Mode ``fast``: K signed random directions per tensor.

For a unit direction v over one tensor, the directional finite difference
of the loss is compared with <grad, v>. The directions are Rademacher (or
Gaussian) with both signs present, never all positive: with all-positive
directions, errors of opposite sign in different coordinates cancel in
<grad, v> (a transposed gradient has the same sum as the right one). On a
failure, the bad coordinate is localised by bisecting the direction's
support: the error of a direction is the sum of its halves' errors, so the
half with the larger error holds a bad coordinate; about log2(n) halvings
reach one coordinate.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from compare.common.errors import ConfigError
from compare.gradcheck import finite_diff as fd
from compare.gradcheck import kinks
from compare.gradcheck import tolerance as T
from compare.gradcheck.full import twin_unmatched
from compare.gradcheck.lossfn import Cache, build_cache, delta_loss
from compare.gradcheck.oracles import loss_row, numeric_rows, pair_rows
from compare.gradcheck.report import FAIL, TensorCheck
from compare.gradcheck.twins import GradFn, Output, gradients, label, tensor_names, twin_outputs
from compare.twins import Params
from manual.activations import Activation

Assessment = tuple[NDArray, NDArray, NDArray, NDArray, NDArray]

DIRECTIONS = 8
KINDS = ("rademacher", "gaussian")


def random_directions(shape: tuple[int, ...], count: int, rng: np.random.Generator,
                      kind: str = "rademacher") -> NDArray:
    """``count`` unit directions over a tensor of ``shape``, never all one sign.

    Returns:
        (count, *shape) array, each direction of L2 norm 1.
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown direction kind {kind!r}; choose one of {', '.join(KINDS)}")
    n = int(np.prod(shape))
    if kind == "rademacher":
        v = rng.choice([-1.0, 1.0], size=(count, n))
    else:
        v = rng.standard_normal((count, n))
    if n > 1:
        # Force both signs: flip one entry of any direction that has one sign only.
        one_sign = (v > 0).all(axis=1) | (v < 0).all(axis=1)
        v[one_sign, rng.integers(0, n, size=int(one_sign.sum()))] *= -1
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v.reshape((count,) + tuple(shape))


def tensor_pre_activation_change(cache: Cache, t: int, V: NDArray,
                                 steps: ArrayLike) -> NDArray:
    """dz of layer t // 2 for steps s and directions V over tensor t.

    Args:
        t: tensor index (2k = W_k, 2k+1 = b_k).
        V: (K, *shape) directions.
        steps: (S,) step sizes.
    Returns:
        (S, K, B, n_{k+1}).
    """
    k, is_bias = divmod(t, 2)
    x = cache.inputs[k]
    if is_bias:
        dz = np.broadcast_to(V[:, None, :], (len(V), len(x), V.shape[-1]))
    else:
        dz = np.einsum("bi,kij->kbj", x, V)
    return np.asarray(steps)[:, None, None, None] * dz


def direction_differences(cache: Cache, t: int, V: NDArray, h: float,
                          pin_slope: float | None = None
                          ) -> tuple[fd.Differences, NDArray, NDArray]:
    """Differences along directions V of tensor t, with kink labels."""
    dz = tensor_pre_activation_change(cache, t, V, fd.steps(h))
    track = cache.act.kink is not None
    out = delta_loss(cache, t // 2, dz, pin_slope=pin_slope, track=track)
    kink = np.any(out.crossed, axis=0) if out.crossed is not None else np.zeros(len(V), bool)
    exact = np.any(out.exact, axis=0) if out.exact is not None else np.zeros(len(V), bool)
    return fd.differences(out.dL, h), kink, exact


def assess_directions(cache: Cache, t: int, V: NDArray, grad: NDArray, h: float,
                      slope: float | None) -> Assessment:
    """Analytic <grad, v>, numeric values and tolerances for directions V.

    Returns:
        (analytic, numeric, tol, error, kink), each (K,).
    """
    diffs, kink, exact = direction_differences(cache, t, V, h)
    pinned = None
    if exact.any():
        pinned = direction_differences(cache, t, V, h, pin_slope=slope)[0]
    analytic, numeric, tol, error = kinks.directional_rules(V, grad, diffs, kink, exact, pinned,
                                                            cache.loss)
    return analytic, numeric, tol, error, kink


def localise(cache: Cache, t: int, v: NDArray, grad: NDArray, h: float,
             slope: float | None) -> tuple[tuple[int, ...], float, float]:
    """Bisect the support of a failing direction down to one coordinate.

    Returns:
        (index tuple, analytic, numeric) of the coordinate reached.
    """
    support = np.flatnonzero(v)
    while support.size > 1:
        halves = np.array_split(support, 2)
        flat = np.zeros((2, v.size))
        for i, half in enumerate(halves):
            flat[i, half] = v.reshape(-1)[half]
        analytic, numeric = assess_directions(cache, t, flat.reshape((2,) + v.shape), grad, h,
                                              slope)[:2]
        support = halves[int(np.argmax(np.abs(analytic - numeric)))]
    e = np.zeros(v.size)
    e[support[0]] = 1.0
    analytic, numeric = assess_directions(cache, t, e.reshape((1,) + v.shape), grad, h,
                                          slope)[:2]
    index = tuple(int(i) for i in np.unravel_index(int(support[0]), v.shape))
    return index, float(analytic[0]), float(numeric[0])


def fd_oracle_fast(activation: "str | Activation", twin: str, twin_out: Output, cache: Cache,
                   directions: list[NDArray], names: list[str], h: float,
                   oracle: str | None = None) -> list[TensorCheck]:
    """Rows of one twin against directional differences; failures localised."""
    loss, grads = twin_out
    oracle = oracle or f"{twin} vs FD"
    name = label(activation)
    rows = [loss_row(name, oracle, loss, cache.loss)]
    slope = kinks.twin_slope(twin, activation) if cache.act.kink is not None else None
    results: list[Assessment | None] = []
    for t in range(len(names)):
        if grads[t].shape != directions[t].shape[1:]:
            results.append(None)
            continue
        results.append(assess_directions(cache, t, directions[t], grads[t], h, slope))
    tensor_rows = numeric_rows(
        name, oracle, names, _part(results, 0, np.array([np.nan])),
        _part(results, 1, np.array([0.0])), _part(results, 2, 0.0),
        rel_scales=[T.floor(cache.loss, h)] * len(names), errors=_part(results, 3, None),
        step=h, kinks=_part(results, 4, None),
        extra_fail=[None if r else np.array([True]) for r in results], unit="directions")
    for t, row in enumerate(tensor_rows):
        if results[t] is None:
            row.note = (f"gradient shape {grads[t].shape} where {directions[t].shape[1:]} "
                        "was expected")
        elif row.verdict == FAIL:
            v = directions[t][row.worst[0]]
            index, a, n = localise(cache, t, v, grads[t], h, slope)
            row.note = (f"direction {row.worst[0]} localised by bisection to {names[t]}"
                        f"[{','.join(map(str, index))}]: analytic {a:+.6e}, numeric {n:+.6e}")
            row.localised = index
        rows.append(row)
    return rows


def _part(results: list[Assessment | None], i: int, missing: Any) -> list[Any]:
    """Item i of each tensor's :func:`assess_directions` result (``missing`` if none)."""
    return [r[i] if r is not None else missing for r in results]


def run_fast(params: Params, X: NDArray, y: NDArray, activation: "str | Activation",
             h: float = T.STEP, count: int = DIRECTIONS, seed: int = 0, kind: str = "rademacher",
             twins: Sequence[str] | None = None) -> list[TensorCheck]:
    """Mode fast for one activation: every twin against ``count`` directions per
    tensor, and every pair of twins against each other."""
    names = tensor_names(params)
    cache = build_cache(params, X, y, activation)
    rng = np.random.default_rng([int(seed), 0xD12EC7])
    tensors = [t for pair in params for t in pair]
    directions = [random_directions(t.shape, count, rng, kind) for t in tensors]
    outs = twin_outputs(params, X, y, activation, twins)
    rows: list[TensorCheck] = []
    for twin, out in outs.items():
        rows += fd_oracle_fast(activation, twin, out, cache, directions, names, h)
    unmatched, note = twin_unmatched(activation, cache, tuple(outs))
    rows += pair_rows(label(activation), names, outs, unmatched, note)
    return rows


def check_grad_fn_fast(grad_fn: GradFn, params: Params, X: NDArray, y: NDArray,
                       activation: "str | Activation", oracle: str = "candidate vs FD",
                       h: float = T.STEP, count: int = DIRECTIONS,
                       seed: int = 0) -> list[TensorCheck]:
    """Rows of any ``loss_and_grads``-like function against directional FD."""
    names = tensor_names(params)
    cache = build_cache(params, X, y, activation)
    rng = np.random.default_rng([int(seed), 0xD12EC7])
    directions = [random_directions(t.shape, count, rng) for pair in params for t in pair]
    out = gradients(grad_fn, params, X, y, activation)
    return fd_oracle_fast(activation, "manual", out, cache, directions, names, h, oracle)
