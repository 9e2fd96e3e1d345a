"""Mode ``sweep``: the error of a central difference against its step h.

For each tensor, K random unit directions; for each h from 1e-1 down to
1e-12 (half-decade steps) the error |D(h) - <grad, v>| (largest over the
directions). A correct gradient gives the V of every finite difference:
on the right (large h) truncation, error ~ h^2, a straight line of slope 2
on log-log axes; on the left rounding, error ~ eps |L| / h. A wrong
gradient shows a floor instead: the error stops falling at the size of the
mistake. The fitted slope uses the truncation side only: the steps from the
largest h down while the error keeps falling, well above (x100) the lowest
error of that run, and crossing no kink (a step across relu's kink has an
O(h) error of its own).

Where the kinks are known (the paper network's, through the loss model) a
step is marked crossed exactly. A loss known only as a function (a user's
that is not the paper's) is searched for kinks in its own values instead
(:func:`irregular_steps`): a step whose Richardson estimate does not follow
the h^2 law of a smooth loss, and every larger step along that direction,
counts as crossing one. The estimate depends on the loss alone, not on the
checked gradient, so a wrong gradient cannot hide behind it.
"""

import csv
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from compare.atomic import atomic_path, write_json, write_text
from compare.gradcheck import tolerance as T
from compare.gradcheck.directional import (
    random_directions,
    tensor_pre_activation_change,
)
from compare.gradcheck.lossfn import Cache, build_cache, delta_loss
from compare.gradcheck.report import FAIL, PASS, TensorCheck, summarise
from compare.gradcheck.twins import label, tensor_names, twin_outputs
from compare.twins import Params
from manual.activations import Activation

STEPS = 10.0 ** np.arange(-1.0, -12.01, -0.5)
DIRECTIONS = 4
SLOPE_RANGE = (1.5, 2.5)
ABOVE_BEST = 100.0
# irregular_steps: a smooth loss's Richardson estimate falls by 10 (h^2) from
# one half-decade step to the next; a ratio outside 10^(SLOPE_RANGE / 2) is a
# kink's doing. Judged only where the estimate is ABOVE_BEST times the loss's
# rounding level.
SMOOTH_RATIO = (10.0 ** (SLOPE_RANGE[0] / 2), 10.0 ** (SLOPE_RANGE[1] / 2))

Changes = Callable[[NDArray], tuple[NDArray, bool]]
"""steps (4,) -> (loss changes (4, K) along each direction, whether a step crossed a kink)."""


def fit_slope(hs: NDArray, errors: NDArray, usable: NDArray,
              resolution: float = 0.0) -> tuple[float | None, NDArray]:
    """Least-squares slope of log10 error against log10 h on the truncation side.

    The truncation side is the run of kink-free steps, from the largest h
    down, over which the error keeps falling; of that run only the points
    ABOVE_BEST times above its lowest error (or above ``resolution``, the
    smallest error float64 can show) are used: near the bottom, rounding
    already bends the curve.

    Args:
        hs, errors: (n,) steps (decreasing) and errors; usable: (n,) bool,
            steps free of kinks; resolution: the rounding level of the errors.
    Returns:
        (slope or None, bool mask of the points used).
    """
    used = np.zeros(len(hs), bool)
    free = np.flatnonzero(usable)
    if free.size == 0:
        return None, used
    kept = [int(free[0])]
    for i in free[1:]:
        if i != kept[-1] + 1 or errors[i] >= errors[kept[-1]]:
            break
        kept.append(int(i))
    run = np.array(kept)
    bottom = max(errors[run].min(), resolution, np.finfo(float).tiny)
    used[run[errors[run] >= ABOVE_BEST * bottom]] = True
    if used.sum() < 3:
        return None, used
    slope = np.polyfit(np.log10(hs[used]), np.log10(errors[used]), 1)[0]
    return float(slope), used


def paper_changes(cache: Cache, t: int, V: NDArray) -> Changes:
    """The paper loss's changes along directions V of tensor t (see :data:`Changes`)."""
    track = cache.act.kink is not None

    def changes(steps: NDArray) -> tuple[NDArray, bool]:
        dz = tensor_pre_activation_change(cache, t, V, steps)
        out = delta_loss(cache, t // 2, dz, track=track)
        return out.dL, track and bool(np.any(out.crossed))
    return changes


def irregular_steps(hs: NDArray, dL: NDArray, loss: float) -> NDArray:
    """Steps whose loss changes show a kink: the loss's own test of smoothness.

    For each direction, the Richardson estimate e(h) = |D(h) - D(h/2)| of a
    smooth loss falls like h^2, by 10 per half-decade step. Step i is
    irregular when e(h_i) / e(h_{i+1}) lies outside :data:`SMOOTH_RATIO`
    (judged where e(h_{i+1}) is ABOVE_BEST times the rounding level, or where
    e(h_i) exceeds the most a smooth loss allows over it); a kink crossed at
    some step is crossed at every larger one, so every step above an
    irregular one is marked too. The rounding level is the larger of the
    floor and what the smallest step's changes show (a float32 loss rounds
    far above float64's floor).

    Args:
        hs: (n,) steps, decreasing (half-decades); dL: (n, 4, K) the loss's
            changes at (h, -h, h/2, -h/2) along K directions; loss: at the point.
    Returns:
        (n,) bool.
    """
    d_h = (dL[:, 0] - dL[:, 1]) / (2 * hs[:, None])
    d_h2 = (dL[:, 2] - dL[:, 3]) / hs[:, None]
    e = np.abs(d_h - d_h2)
    # |e| rounds to at most 3 r / h for changes rounded by r
    r = float(np.abs(dL[-1]).max())
    noise = np.maximum([T.floor(loss, h) for h in hs], 4 * r / hs)[:, None]
    low, high = SMOOTH_RATIO
    falls_too_little = (e[1:] > ABOVE_BEST * noise[1:]) & (e[:-1] < low * e[1:])
    falls_too_much = e[:-1] > high * (e[1:] + noise[1:])
    bad = np.zeros(e.shape, bool)
    bad[:-1] = falls_too_little | falls_too_much
    # every step at or above the smallest irregular one, per direction
    above = np.flip(np.logical_or.accumulate(np.flip(bad, axis=0), axis=0), axis=0)
    return np.asarray(above.any(axis=1))


def sweep_tensor(cache: Cache, t: int, V: NDArray, grad: NDArray, hs: NDArray = STEPS,
                 changes: Changes | None = None, loss: float | None = None,
                 find_kinks: bool = False) -> dict[str, Any]:
    """Errors of D(h) along directions V of tensor t, for every h.

    Args:
        changes: the loss's changes along V (default: the paper loss's, from
            ``cache``); loss: the loss at the point (default: the cache's).
        find_kinks: also mark the steps :func:`irregular_steps` finds as
            crossing a kink (for a loss whose kinks ``changes`` cannot tell).
    Returns:
        dict of (n,) arrays: error (largest over directions), estimate
        (largest Richardson error estimate of D(h): 4/3 |D(h) - D(h/2)|),
        tolerance (SAFETY * estimate + floor), crossed (bool).
    """
    analytic = np.tensordot(V, grad, axes=grad.ndim)
    changes = changes or paper_changes(cache, t, V)
    loss = cache.loss if loss is None else loss
    dL = np.empty((len(hs), 4, len(V)))
    crossed = np.zeros(len(hs), bool)
    for i, h in enumerate(hs):            # one step at a time bounds the memory
        dL[i], crossed[i] = changes(np.array([h, -h, h / 2, -h / 2]))
    if find_kinks:
        crossed |= irregular_steps(hs, dL, loss)
    d_h = (dL[:, 0] - dL[:, 1]) / (2 * hs[:, None])
    d_h2 = (dL[:, 2] - dL[:, 3]) / hs[:, None]
    estimate = 4 / 3 * np.abs(d_h - d_h2)
    tolerance = T.SAFETY * estimate + np.array([T.floor(loss, h) for h in hs])[:, None]
    error = np.abs(d_h - analytic)
    return {"error": error.max(axis=1), "estimate": estimate.max(axis=1),
            # the smallest error a difference of this gradient's size can show:
            # FLOOR_ULPS roundings of the largest directional derivative |grad|
            "resolution": T.FLOOR_ULPS * T.EPS * float(np.linalg.norm(grad)),
            "tolerance": tolerance.min(axis=1), "passes": (error <= tolerance).all(axis=1),
            "crossed": crossed}


def sweep_row(activation: str, oracle: str, name: str, curve: dict[str, Any],
              hs: NDArray = STEPS, count: int = DIRECTIONS) -> TensorCheck:
    """A TensorCheck for one swept tensor.

    It passes when, at every step that crosses no kink, every direction
    meets the error-estimated rule (a wrong gradient fails in the middle of
    the range, where truncation and rounding are both below the mistake),
    and the fitted slope, when there are enough points to fit, is near 2.
    """
    slope, used = fit_slope(hs, curve["error"], ~curve["crossed"], curve["resolution"])
    best = int(np.argmin(curve["error"]))
    row = summarise(activation, oracle, name, np.zeros(1), curve["error"][best:best + 1],
                    curve["tolerance"][best], rel_scale=1.0, fd_error=curve["estimate"][best],
                    step=float(hs[best]), unit="directions")
    row.checked, row.shape, row.worst = count, (), ()
    row.analytic = row.numeric = row.max_rel = float("nan")
    row.kinks = int(curve["crossed"].sum())
    row.slope = slope
    smooth = ~curve["crossed"]
    held = int((curve["passes"] & smooth).sum())
    slope_ok = slope is None or SLOPE_RANGE[0] <= slope <= SLOPE_RANGE[1]
    row.failed = int(smooth.sum()) - held + int(not slope_ok)
    row.verdict = FAIL if row.failed else PASS
    if slope is not None:
        fit = f"slope {slope:.2f} over h in [{hs[used].min():.0e}, {hs[used].max():.0e}]"
        if not slope_ok:
            fit += f" (expected {SLOPE_RANGE[0]:g}..{SLOPE_RANGE[1]:g})"
    else:
        fit = "no slope: fewer than 3 kink-free steps above the rounding floor"
    row.note = (f"{fit}; best h {hs[best]:.0e}; rule held at {held} of {int(smooth.sum())} "
                "kink-free steps")
    return row


def run_sweep(params: Params, X: NDArray, y: NDArray, activation: "str | Activation", seed: int = 0,
              count: int = DIRECTIONS, hs: NDArray = STEPS,
              twins: Sequence[str] | None = None
              ) -> tuple[list[TensorCheck], dict[str, Any]]:
    """Mode sweep for one activation.

    Returns:
        (rows, data): TensorCheck rows for each twin and tensor, and the
        curves {twin: {tensor: {h, error, estimate, tolerance, crossed}}}.
    """
    names = tensor_names(params)
    cache = build_cache(params, X, y, activation)
    rng = np.random.default_rng([int(seed), 0x5EE9])
    tensors = [t for pair in params for t in pair]
    directions = [random_directions(t.shape, count, rng) for t in tensors]
    rows: list[TensorCheck] = []
    data: dict[str, Any] = {}
    for twin, (_, grads) in twin_outputs(params, X, y, activation, twins).items():
        data[twin] = {}
        for t, name in enumerate(names):
            curve = sweep_tensor(cache, t, directions[t], grads[t], hs)
            rows.append(sweep_row(label(activation), f"{twin} vs FD", name, curve, hs, count))
            data[twin][name] = {"h": hs.tolist(), **{k: np.asarray(v).tolist()
                                                     for k, v in curve.items()}}
    return rows, data


def save_sweep(out_dir: "str | Path", data: dict[str, Any], rows: list[TensorCheck],
               twin: str = "manual") -> list[Path]:
    """Write sweep.json, sweep.csv and sweep.png into ``out_dir``; return their paths.

    Args:
        data: {activation: {twin: {tensor: curve}}} as from :func:`run_sweep`.
        rows: the TensorCheck rows (for the fitted slopes).
    """
    out_dir = Path(out_dir)
    slopes = {(r.activation, r.oracle.split()[0], r.tensor): r.slope for r in rows}
    write_json(out_dir / "sweep.json", {
        "steps": STEPS.tolist(), "directions": DIRECTIONS,
        "slope_range": list(SLOPE_RANGE), "curves": data,
        "slopes": [{"activation": a, "twin": tw, "tensor": te, "slope": s}
                   for (a, tw, te), s in slopes.items()]})
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["activation", "twin", "tensor", "h", "error", "estimate", "tolerance",
                     "crossed_kink"])
    for act, twins in data.items():
        for twin, tensors in twins.items():
            for name, c in tensors.items():
                for i, h in enumerate(c["h"]):
                    writer.writerow([act, twin, name, f"{h:.3e}", f"{c['error'][i]:.6e}",
                                     f"{c['estimate'][i]:.6e}", f"{c['tolerance'][i]:.6e}",
                                     int(c["crossed"][i])])
    write_text(out_dir / "sweep.csv", buf.getvalue())
    plot_sweep(data, slopes, out_dir / "sweep.png", twin=twin)
    return [out_dir / "sweep.json", out_dir / "sweep.csv", out_dir / "sweep.png"]


def plot_sweep(data: dict[str, Any], slopes: dict[tuple[str, str, str], float | None],
               path: Path, twin: str = "manual") -> None:
    """One panel per activation: error against h for each tensor, log-log."""
    from matplotlib.figure import Figure
    acts = list(data)
    cols = min(3, len(acts))
    rows = -(-len(acts) // cols)
    fig = Figure(figsize=(max(4.4 * cols, 6.4), 3.6 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).reshape(-1)
    for ax, act in zip(axes, acts):
        for name, c in data[act][twin].items():
            h, err = np.array(c["h"]), np.maximum(np.array(c["error"]), 1e-20)
            crossed = np.array(c["crossed"], bool)
            slope = slopes.get((act, twin, name))
            label = f"{name} (slope {slope:.2f})" if slope is not None else name
            line, = ax.loglog(h, err, marker="o", markersize=3, label=label)
            ax.loglog(h[crossed], err[crossed], "o", markersize=6, mfc="none",
                      color=line.get_color())
        ref = np.array([1e-1, 1e-5])
        top = max(max(c["error"]) for c in data[act][twin].values())
        ax.loglog(ref, top * (ref / ref[0]) ** 2, "k--", linewidth=0.8, label="slope 2")
        ax.set_title(f"{act} ({twin} twin)")
        ax.set_xlabel("step h")
        ax.set_ylabel("|D(h) - <grad, v>|")
        ax.invert_xaxis()
        ax.legend(fontsize=7)
    for ax in axes[len(acts):]:
        ax.set_visible(False)
    fig.suptitle("Central-difference error against step (hollow: the step crosses a kink)")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
