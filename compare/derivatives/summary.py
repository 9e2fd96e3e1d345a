"""The derivatives study's Markdown summary, written from its data.

Every number in the summary is read from the data of ``compare.derivatives.study``
(or the JSON written from it), never typed by hand.
"""

from collections.abc import Iterable
from typing import Any

import numpy as np


def _fmt(x: float | None, spec: str = ".2g") -> str:
    """Format a number for the summary; None (not measurable) as an em dash."""
    return "—" if x is None else format(x, spec)


def _values(xs: Iterable[float]) -> str:
    """The distinct values of ``xs``, to 6 significant digits, comma-separated."""
    return ", ".join(sorted({format(x, ".6g") for x in xs}, key=float))


def summarize(table: dict[str, Any], curves: dict[str, Any], kinks: dict[str, Any]) -> str:
    """A short Markdown account of the study; every number is read from the data.

    Args:
        table, curves, kinks: outputs of :func:`derivative_table`,
            :func:`vcurves` and :func:`kink_study` (arrays or their JSON).
    Returns:
        str, Markdown.
    """
    z = np.asarray(table["z"], dtype=float)
    acts = table["activations"]
    lines = [
        "# Activation derivatives: by hand, by autograd, by finite differences",
        "",
        "Written by `twinprop derivatives`; every number here is computed from the JSON "
        "files beside it.",
        "",
        "## g' three ways (derivatives.png, derivative_errors.png; data: derivatives.json)",
        "",
        f"{len(z)} points z in [{z.min():g}, {z.max():g}]; central differences with step "
        f"eps^(1/3)·max(1, |z|) = {float(np.min(table['fd_step'])):.2e}·max(1, |z|) in float64. "
        "Points whose stencil touches a kink are left out of the maxima.",
        "",
        "| activation | max abs(autograd − hand) | max abs(central − hand) | left out at kink "
        "| autograd function |",
        "|---|---|---|---|---|",
    ]
    for name, row in acts.items():
        lines.append(f"| {name} | {_fmt(row['max_abs_autograd_minus_hand'])} "
                     f"| {_fmt(row['max_abs_fd_minus_hand'])} | {row['excluded_near_kink']} "
                     f"| `{row['autograd_source']}` |")
    measured = [row["max_abs_autograd_minus_hand"] for row in acts.values()
                if row["max_abs_autograd_minus_hand"] is not None]
    worst_ag = max(measured) if measured else None
    worst_fd = max(row["max_abs_fd_minus_hand"] for row in acts.values())
    lines += [
        "",
        f"Hand and autograd derivatives agree to {_fmt(worst_ag)} everywhere off the kinks; "
        f"central differences agree with them to {_fmt(worst_fd)}, of the order of "
        f"eps^(2/3) = {np.finfo(np.float64).eps ** (2 / 3):.2g}, the least error a step near "
        "eps^(1/3) allows (see the V-curves).",
        "",
        "## Error against step (vcurves.png; data: vcurves.json)",
        "",
        f"|central difference − exact| for {len(curves['steps'])} steps h from "
        f"{max(curves['steps']):g} to {min(curves['steps']):g}; median over "
        f"{len(curves['base_points'])} points z0 in [{min(curves['base_points']):g}, "
        f"{max(curves['base_points']):g}]. Slopes are least-squares fits of log error "
        "against log h on each side of the best step.",
        "",
        "| dtype | activation | best h | min error | truncation slope | rounding slope |",
        "|---|---|---|---|---|---|",
    ]
    for dtype, block in curves["dtypes"].items():
        for name, row in block["activations"].items():
            best = _fmt(row["best_step"]) if row["truncation_side"] else "none: no truncation error"
            lines.append(f"| {dtype} | {name} | {best} | {_fmt(row['min_error'])} "
                         f"| {_fmt(row['truncation_slope'], '.2f')} "
                         f"| {_fmt(row['rounding_slope'], '.2f')} |")
    lines.append("")
    for dtype, block in curves["dtypes"].items():
        smooth = {n: r for n, r in block["activations"].items() if r["truncation_side"]}
        flat = [n for n, r in block["activations"].items() if not r["truncation_side"]]
        if smooth:
            bests = [r["best_step"] for r in smooth.values()]
            trunc = [r["truncation_slope"] for r in smooth.values()
                     if r["truncation_slope"] is not None]
            rnd = [r["rounding_slope"] for r in smooth.values() if r["rounding_slope"] is not None]
            lines.append(
                f"- {dtype} (eps = {block['eps']:.2g}): for {', '.join(smooth)} the best step lies "
                f"in [{min(bests):.2g}, {max(bests):.2g}] against eps^(1/3) = "
                f"{block['eps_cbrt']:.2g}; "
                f"the smallest error is {_fmt(min(r['min_error'] for r in smooth.values()))} "
                f"(eps^(2/3) = {block['eps'] ** (2 / 3):.2g})"
                + (f"; truncation slopes {min(trunc):.2f} to {max(trunc):.2f}" if trunc else "")
                + (f"; rounding slopes {min(rnd):.2f} to {max(rnd):.2f}" if rnd else "") + ".")
        plateau = block["eps"] * max(curves["base_points"])
        if plateau > min(curves["steps"]):
            lines.append(
                f"- {dtype}: below h ≈ eps·max|z0| = {plateau:.2g}, z0 ± h rounds to z0, the "
                "quotient is 0 and the error is |g'(z0)| itself: the flat left end of the curves.")
        if flat:
            lines.append(
                f"- {dtype}: {', '.join(flat)} have no truncation error (g is linear on each "
                "stencil), so the error only falls as h grows: rounding alone.")
    lines += [
        "",
        "## At the kink (kink.png; data: kink.json)",
        "",
        "| activation | left slope | right slope | central | by hand (manual twin) "
        "| autograd on the autograd twin | autograd on np.maximum |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in kinks.items():
        lines.append(f"| {name} at z = {row['kink']:g} | {_values(row['left'])} "
                     f"| {_values(row['right'])} | {_values(row['central'])} "
                     f"| {row['hand']:g} | {row['twin_autograd']:g} "
                     f"| {row['maximum_autograd']:g} |")
    lines.append("")
    for name, row in kinks.items():
        lines.append(
            f"- {name}: for every h in {{{', '.join(format(h, 'g') for h in row['steps'])}}} the "
            f"one-sided quotients are {_values(row['left'])} and {_values(row['right'])} and the "
            f"central difference is {_values(row['central'])}. The manual twin says "
            f"{row['hand']:g}, which "
            + ("lies" if row["hand_between_one_sided"] else "does NOT lie")
            + f" between the one-sided slopes (a valid subgradient); autograd says "
            f"{row['twin_autograd']:g} on the autograd twin's function (`{row['twin_source']}`) "
            f"and {row['maximum_autograd']:g} on np.maximum (`{row['maximum_source']}`)"
            + (", so the two twins agree at the kink."
               if row["hand"] == row["twin_autograd"] else
               ", so the two twins DISAGREE at the kink."))
    lines += [
        "",
        "No convention is wrong at a kink; what matters is knowing which one each tool uses, "
        "and that a gradient check cannot judge a coordinate whose stencil crosses the kink.",
        "",
    ]
    return "\n".join(lines)
