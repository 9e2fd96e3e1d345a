"""Mode ``full``: every parameter by central differences with error estimates.

For each parameter theta_i the loss changes at theta_i + s for
s in (h, -h, h/2, -h/2) come from :mod:`compare.gradcheck.structured` (all
coordinates of a layer in vectorised batches); Richardson extrapolation
gives the numeric derivative and its error estimate, kink coordinates get
the one-sided-slope rule (:mod:`compare.gradcheck.kinks`), and each twin is
compared with the result and with every other twin.
"""

import itertools
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from compare.gradcheck import finite_diff as fd
from compare.gradcheck import kinks
from compare.gradcheck import tolerance as T
from compare.gradcheck.lossfn import Cache, build_cache
from compare.gradcheck.oracles import loss_row, numeric_rows, pair_rows
from compare.gradcheck.report import TensorCheck
from compare.gradcheck.structured import all_changes, layer_changes
from compare.gradcheck.twins import GradFn, Output, gradients, tensor_names, twin_outputs
from compare.gradcheck.twins import label as act_label
from compare.twins import Params
from manual.activations import Activation

Masks = list[NDArray]


def coordinate_differences(params: Params, X: NDArray, y: NDArray, activation: "str | Activation",
                           h: float = T.STEP
                           ) -> tuple[Cache, list[fd.Differences], Masks, Masks]:
    """Central differences for every parameter, with kink labels.

    Args:
        params: list of K pairs (W, b), float64; X (B, n_0); y (B,).
        activation: hidden activation name.
        h: the larger step.
    Returns:
        (cache, diffs, kink, exact): lists over tensors [W1, b1, ...] of
        Differences and bool masks (all False for a smooth activation).
    """
    return cache_differences(build_cache(params, X, y, activation), h)


def cache_differences(cache: Cache, h: float = T.STEP
                      ) -> tuple[Cache, list[fd.Differences], Masks, Masks]:
    """:func:`coordinate_differences` at the point ``cache`` was built at."""
    track = cache.act.kink is not None
    diffs: list[fd.Differences] = []
    kink: Masks = []
    exact: Masks = []
    for lc in all_changes(cache, fd.steps(h), track=track):
        for dL, kmask, emask in ((lc.dW, lc.kink_W, lc.exact_W), (lc.db, lc.kink_b, lc.exact_b)):
            diffs.append(fd.differences(dL, h))
            kink.append(kmask if kmask is not None else np.zeros(dL.shape[1:], bool))
            exact.append(emask if emask is not None else np.zeros(dL.shape[1:], bool))
    return cache, diffs, kink, exact


def pinned_differences(cache: Cache, exact: Masks, slope: float | None,
                       h: float = T.STEP) -> list[fd.Differences | None]:
    """Differences of the loss whose on-kink units follow ``slope``.

    Computed only for layers with an exact-kink coordinate; None elsewhere.
    """
    out: list[fd.Differences | None] = []
    for k in range(cache.n_layers):
        if exact[2 * k].any() or exact[2 * k + 1].any():
            lc = layer_changes(cache, k, fd.steps(h), pin_slope=slope)
            out += [fd.differences(lc.dW, h), fd.differences(lc.db, h)]
        else:
            out += [None, None]
    return out


def fd_oracle(activation: "str | Activation", twin: str, twin_out: Output, cache: Cache,
              diffs: list[fd.Differences], kink: Masks, exact: Masks, names: list[str],
              h: float, label: str | None = None) -> list[TensorCheck]:
    """Rows of one twin against the finite differences (kink rules applied).

    Args:
        twin: whose convention at an exact kink applies (a twin's name).
        twin_out: (loss, [tensors]) to check.
        cache, diffs, kink, exact: from :func:`coordinate_differences`.
        label: the oracle's name in the table (default "<twin> vs FD").
    """
    loss, grads = twin_out
    oracle = label or f"{twin} vs FD"
    rows = [loss_row(act_label(activation), oracle, loss, cache.loss)]
    pinned: list[fd.Differences | None] = [None] * len(names)
    if any(e.any() for e in exact):
        pinned = pinned_differences(cache, exact, kinks.twin_slope(twin, activation), h)
    numeric: list[NDArray] = []
    tol: list[NDArray] = []
    errors: list[NDArray | None] = []
    for t in range(len(names)):
        if grads[t].shape == diffs[t].numeric.shape:
            rules = kinks.apply_kink_rules(grads[t], diffs[t], kink[t], exact[t],
                                           pinned[t], cache.loss)
        else:   # reported as a shape mismatch by numeric_rows
            rules = (diffs[t].numeric, np.zeros_like(diffs[t].numeric), diffs[t].error)
        numeric.append(rules[0])
        tol.append(rules[1])
        errors.append(rules[2])
    floor = T.floor(cache.loss, h)
    rows += numeric_rows(act_label(activation), oracle, names, grads, numeric, tol,
                         rel_scales=[floor] * len(names), errors=errors, step=h, kinks=kink)
    return rows


def twin_unmatched(activation: "str | Activation", cache: Cache, twins: Sequence[str],
                   exact: Masks | None = None) -> tuple[dict[tuple[str, str], Masks], str]:
    """Masks of elements a pair of twins may disagree on, with the reason.

    Only elements that move a unit sitting exactly on the kink, and only
    for pairs whose conventions there differ; otherwise ({}, "").

    Args:
        cache: Cache of the base point.
        twins: the twins' names.
        exact: per-tensor exact-kink masks if already known (else computed).
    Returns:
        ({(a, b): masks}, note).
    """
    act = cache.act
    if act.kink is None or not any((z == act.kink).any() for z in cache.zs):
        return {}, ""
    slopes = {twin: kinks.twin_slope(twin, activation) for twin in twins}
    differing = [(a, b) for a, b in itertools.combinations(twins, 2) if slopes[a] != slopes[b]]
    if not differing:
        return {}, ""
    if exact is None:
        exact = [np.asarray(mask) for lc in all_changes(cache, fd.steps(T.STEP), track=True)
                 for mask in (lc.exact_W, lc.exact_b)]
    note = ("exact-kink elements not compared: the twins' derivatives at the kink "
            "differ by convention (" + ", ".join(f"{t} {s:g}" for t, s in slopes.items()) + ")")
    return dict.fromkeys(differing, exact), note


def run_full(params: Params, X: NDArray, y: NDArray, activation: "str | Activation",
             twins: Sequence[str] | None = None, h: float = T.STEP) -> list[TensorCheck]:
    """Mode full for one activation: every twin against FD and each other, every parameter.

    Args:
        twins: names of registered twins (default: all).
    Returns:
        list of TensorCheck (each twin vs FD, then every pair of twins).
    """
    names = tensor_names(params)
    cache, diffs, kink, exact = coordinate_differences(params, X, y, activation, h)
    outs = twin_outputs(params, X, y, activation, twins)
    rows: list[TensorCheck] = []
    for twin, out in outs.items():
        rows += fd_oracle(activation, twin, out, cache, diffs, kink, exact, names, h)
    unmatched, note = twin_unmatched(activation, cache, tuple(outs), exact)
    rows += pair_rows(act_label(activation), names, outs, unmatched, note)
    return rows


def check_grad_fn(grad_fn: GradFn, params: Params, X: NDArray, y: NDArray,
                  activation: "str | Activation", label: str = "candidate vs FD",
                  h: float = T.STEP) -> list[TensorCheck]:
    """Rows of any ``loss_and_grads``-like function against FD (mode full).

    Used by the selftest; at an exact kink the candidate is held to the
    manual twin's documented convention.
    """
    names = tensor_names(params)
    cache, diffs, kink, exact = coordinate_differences(params, X, y, activation, h)
    out = gradients(grad_fn, params, X, y, activation)
    return fd_oracle(activation, "manual", out, cache, diffs, kink, exact, names, h, label)
