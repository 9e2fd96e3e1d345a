"""Mode ``complex``: the complex step, derivative without subtraction.

For an analytic f, f(theta + i h v) = f(theta) + i h <grad f, v> + O(h^2)
with the O(h^2) term real up to O(h^3), so

    <grad f, v> = Im f(theta + i h v) / h       (error O(h^2), no cancellation)

and h can be 1e-30: the truncation error (~1e-60) vanishes and nothing is
subtracted, so the result is exact to rounding. Every coordinate is one
direction v = e_i, evaluated in vectorised batches by
:mod:`compare.gradcheck.structured` in complex arithmetic. Only analytic
activations qualify: relu and leaky_relu are not (their kink has no
complex extension), so for them this oracle is skipped.
"""

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from compare.gradcheck import tolerance as T
from compare.gradcheck.lossfn import Cache, build_cache
from compare.gradcheck.oracles import loss_row, numeric_rows, pair_rows
from compare.gradcheck.report import TensorCheck, skipped
from compare.gradcheck.structured import all_changes
from compare.gradcheck.twins import Output, label, tensor_names, twin_outputs
from compare.twins import Params
from manual.activations import Activation


def complex_step_gradients(cache: Cache, h: float = T.COMPLEX_STEP) -> list[NDArray]:
    """Im L(theta + i h e_i) / h for every parameter, tensors [W1, b1, ...]."""
    out: list[NDArray] = []
    for lc in all_changes(cache, np.array([1j * h])):
        out += [lc.dW[0].imag / h, lc.db[0].imag / h]
    return out


def complex_rows(activation: str, twin: str, twin_out: Output, cache: Cache,
                 numeric: list[NDArray], names: list[str],
                 oracle: str | None = None) -> list[TensorCheck]:
    """Rows of one twin against the complex-step derivatives."""
    loss, grads = twin_out
    oracle = oracle or f"{twin} vs complex"
    tol = [T.COMPLEX_TOL * max(1.0, float(np.abs(g).max(initial=0.0))) for g in grads]
    rows = [loss_row(activation, oracle, loss, cache.loss)]
    rows += numeric_rows(activation, oracle, names, grads, numeric, tol,
                         rel_scales=[T.COMPLEX_TOL] * len(names), step=T.COMPLEX_STEP)
    return rows


def run_complex(params: Params, X: NDArray, y: NDArray, activation: "str | Activation",
                twins: Sequence[str] | None = None) -> list[TensorCheck]:
    """Mode complex for one activation: each twin vs complex step, and every pair."""
    names = tensor_names(params)
    cache = build_cache(params, X, y, activation)
    outs = twin_outputs(params, X, y, activation, twins)
    name = label(activation)
    rows: list[TensorCheck] = []
    if cache.act.kink is not None:
        rows += [skipped(name, f"{twin} vs complex", "all", (),
                         f"{name} has a kink, so no complex extension; "
                         "--mode full checks it")
                 for twin in outs]
    else:
        numeric = complex_step_gradients(cache)
        for twin, out in outs.items():
            rows += complex_rows(name, twin, out, cache, numeric, names)
    rows += pair_rows(name, names, outs)
    return rows
