"""Figures of the derivatives study, drawn from its data (compare.derivatives.study).

Each function takes the JSON-ready data (lists or arrays) and returns PNG
bytes, so a figure can be redrawn from the JSON file written beside it. The
figures use matplotlib's object API with the Agg canvas: no global pyplot
state and no display needed.
"""

import io
from collections.abc import Iterable
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import NDArray

# Exact zeros cannot be drawn on a log axis; they are drawn at this value.
LOG_FLOOR = 1e-18
LINE_STYLES = ("-", "--", ":", "-.")
COLORS = {"g": "black", "hand": "tab:blue", "autograd": "tab:orange", "fd": "tab:green"}


def _png(fig: Figure) -> bytes:
    """Render ``fig`` to PNG bytes."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def _grid(n: int, width: float = 4.0, height: float = 3.2,
          per_row: int = 3) -> tuple[Figure, list[Axes]]:
    """A figure with ``n`` panels, ``per_row`` to a row; returns (fig, axes list)."""
    cols = min(per_row, n)
    rows = (n + cols - 1) // cols
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n)]
    return fig, axes


def _floats(values: Iterable[float | None]) -> NDArray:
    """``values`` as a float array, None (not measurable) as NaN (not drawn)."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _floored(values: Iterable[float | None]) -> NDArray:
    """Array of ``values`` with zeros (and None) raised to LOG_FLOOR for a log axis."""
    arr = _floats(values)
    return np.where(arr > 0, arr, LOG_FLOOR)


def plot_derivatives(table: dict[str, Any]) -> bytes:
    """g and g' by hand, autograd and central differences, one panel per activation.

    Args:
        table: :func:`compare.derivatives.study.derivative_table` output (or its JSON).
    Returns:
        PNG bytes.
    """
    z = np.asarray(table["z"], dtype=float)
    acts = table["activations"]
    fig, axes = _grid(len(acts))
    every = max(1, len(z) // 40)  # thin the finite-difference dots so lines stay visible
    for ax, (name, row) in zip(axes, acts.items()):
        ax.plot(z, _floats(row["g"]), color=COLORS["g"], lw=1.2, label="g")
        ax.plot(z, _floats(row["hand"]), color=COLORS["hand"], lw=2.4, alpha=0.6,
                label="g' by hand")
        ax.plot(z, _floats(row["autograd"]), color=COLORS["autograd"], lw=1.2, ls="--",
                label="g' by autograd")
        ax.plot(z[::every], _floats(row["fd"])[::every], "o", ms=3,
                color=COLORS["fd"], label="g' by central difference")
        ax.set_title(name)
        ax.set_xlabel("z")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="upper left")
    fig.suptitle("Activations and their derivatives, three ways")
    return _png(fig)


def plot_derivative_errors(table: dict[str, Any]) -> bytes:
    """|autograd - hand| and |central difference - hand| against z, log scale.

    Points whose finite-difference stencil straddles a kink are drawn too
    (they are the spikes at 0 for relu and leaky_relu). Returns PNG bytes.
    """
    z = np.asarray(table["z"], dtype=float)
    acts = table["activations"]
    fig, axes = _grid(len(acts))
    for ax, (name, row) in zip(axes, acts.items()):
        hand = _floats(row["hand"])
        ax.semilogy(z, _floored(np.abs(_floats(row["autograd"]) - hand)),
                    color=COLORS["autograd"], lw=1, label="|autograd - hand|")
        ax.semilogy(z, _floored(np.abs(_floats(row["fd"]) - hand)),
                    color=COLORS["fd"], lw=1, label="|central diff - hand|")
        ax.set_ylim(LOG_FLOOR / 3, 10)
        ax.set_title(name)
        ax.set_xlabel("z")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Disagreement with the hand derivative (exact zeros drawn at {LOG_FLOOR:g})")
    return _png(fig)


def plot_vcurves(curves: dict[str, Any]) -> bytes:
    """Error of the central difference against its step, one panel per dtype.

    Each line is the median over the base points, the band their 10-90 %
    range; the dotted vertical line is eps**(1/3), the markers each
    activation's best step. Returns PNG bytes.
    """
    steps = np.asarray(curves["steps"], dtype=float)
    dtypes = curves["dtypes"]
    fig = Figure(figsize=(6.0 * len(dtypes), 4.6), layout="constrained")
    for i, (dtype, block) in enumerate(dtypes.items()):
        ax = fig.add_subplot(1, len(dtypes), i + 1)
        for j, (name, row) in enumerate(block["activations"].items()):
            slopes = ", ".join(f"{side} {row[f'{side}_slope']:.2f}"
                               for side in ("truncation", "rounding")
                               if row[f"{side}_slope"] is not None)
            # Piecewise-linear activations coincide on z0 > 0: line styles tell them apart.
            line, = ax.loglog(steps, _floored(row["median"]), lw=1.4, ls=LINE_STYLES[j % 4],
                              label=f"{name} (slopes: {slopes})")
            ax.fill_between(steps, _floored(row["p10"]), _floored(row["p90"]),
                            color=line.get_color(), alpha=0.12, lw=0)
            if row["truncation_side"]:
                ax.plot([row["best_step"]], [row["min_error"]], "v", ms=7,
                        color=line.get_color())
        ax.axvline(block["eps_cbrt"], color="gray", ls=":",
                   label=f"eps^(1/3) = {block['eps_cbrt']:.1e}")
        ax.set_xlabel("step h")
        ax.set_ylabel("|central difference - exact|")
        ax.set_title(f"{dtype} (eps = {block['eps']:.1e})")
        ax.set_ylim(LOG_FLOOR / 3, 10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="lower left")
    fig.suptitle("V-curves: truncation error (slope 2) meets rounding error (slope -1)")
    return _png(fig)


def plot_kink(kinks: dict[str, Any]) -> bytes:
    """Around each kink: the central difference's ramp, the hand and autograd values.

    Args:
        kinks: :func:`compare.derivatives.study.kink_study` output (or its JSON).
    Returns:
        PNG bytes.
    """
    fig, axes = _grid(len(kinks), width=8.0, height=3.6, per_row=1)
    for ax, (name, row) in zip(axes, kinks.items()):
        win = row["window"]
        z = np.asarray(win["z"], dtype=float)
        ax.plot(z, win["hand"], color=COLORS["hand"], lw=2.4, alpha=0.6, label="hand")
        ax.plot(z, win["twin_autograd"], color=COLORS["autograd"], lw=1.2, ls="--",
                label="autograd on the autograd twin")
        ax.plot(z, win["maximum_autograd"], color="tab:purple", lw=1.0, ls=":",
                label="autograd on np.maximum")
        ax.plot(z, win["central"], color=COLORS["fd"], lw=1.2,
                label=f"central difference, h = {win['step']:g}")
        k = row["kink"]
        for key, marker, color, ms, label in (
                ("hand", "o", COLORS["hand"], 9, "hand"),
                ("twin_autograd", "s", COLORS["autograd"], 6, "autograd (twin)"),
                ("maximum_autograd", "D", "tab:purple", 5, "autograd (np.maximum)")):
            ax.plot([k], [row[key]], marker, color=color, ms=ms,
                    label=f"{label} at kink: {row[key]:g}")
        ax.plot([k], [row["central"][0]], "^", color=COLORS["fd"], ms=6,
                label=f"central at kink: {row['central'][0]:g}")
        ax.plot([k, k], [row["left"][0], row["right"][0]], "_", color="red", ms=14, mew=2,
                label=f"one-sided slopes: {row['left'][0]:g}, {row['right'][0]:g}")
        ax.set_title(f"{name} at its kink z = {k:g}")
        ax.set_xlabel("z")
        ax.set_ylabel("g'(z)")
        ax.grid(alpha=0.3)
        # Outside the axes: inside, it would hide the markers at the kink.
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return _png(fig)
