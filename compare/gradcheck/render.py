"""What ``twinprop gradcheck`` prints: a header saying what was checked and
by which rule, the table, and a verdict line; or the same as JSON."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from compare.gradcheck import tolerance as T
from compare.gradcheck.report import (
    FAIL,
    TensorCheck,
    all_passed,
    column_widths,
    format_table,
    to_dict,
)
from compare.gradcheck.selftest import Bug, Outcome
from compare.gradcheck.suite import SuiteResult
from compare.gradcheck.sweep import DIRECTIONS as SWEEP_DIRECTIONS
from compare.gradcheck.sweep import SLOPE_RANGE, STEPS

MODE_TEXT = {
    "full": "every parameter perturbed on its own (central differences, steps h and h/2)",
    "fast": "{k} signed random unit directions per tensor, <grad, v> against the "
            "directional difference; a failing direction is bisected to one coordinate",
    "sweep": "{k} random directions per tensor, the central-difference error for each "
             "step h from 1e-1 to 1e-12",
    "complex": "every parameter by the complex step Im L(theta + i h e) / h, h = 1e-30 "
               "(analytic activations only)",
}


def rule_lines(mode: str) -> list[str]:
    """The pass rule of ``mode``, as lines of text."""
    twins = (f"X vs Y (two twins): |difference| <= {T.TWIN_TOL:g} x max(1, largest "
             "|gradient| in the tensor)")
    fd_rule = [
        f"X vs FD: |analytic - numeric| <= {T.SAFETY:g} x (estimated FD error) + floor, where",
        "  D(s) = (L(theta + s) - L(theta - s)) / 2s, numeric = (4 D(h/2) - D(h)) / 3 "
        "(Richardson),",
        f"  estimated FD error = |D(h) - D(h/2)| / 3, h = {T.STEP:g}, "
        f"floor = {T.FLOOR_ULPS:g} eps max(|L|, 1) / h",
        "kink (relu, leaky_relu): a step moves a pre-activation across 0; the element "
        "passes when",
        "  the analytic value lies between the one-sided slopes (L(theta+s) - L)/s and "
        "(L - L(theta-s))/s,",
        "  or, if the pre-activation is exactly 0, equals the difference taken with the "
        "twin's own g'(0)",
    ]
    if mode == "complex":
        return [f"X vs complex: |analytic - numeric| <= {T.COMPLEX_TOL:g} x max(1, largest "
                "|gradient| in the tensor)", twins]
    if mode == "sweep":
        return [f"X vs FD: at every step h that crosses no kink, |D(h) - <grad, v>| <= "
                f"{T.SAFETY:g} x 4/3 |D(h) - D(h/2)| + floor(h),",
                f"  and the log-log slope of the error on the truncation side lies in "
                f"{SLOPE_RANGE[0]:g}..{SLOPE_RANGE[1]:g} (a right gradient: 2; a wrong one: "
                "a floor)"]
    return fd_rule + [twins]


def header(result: SuiteResult) -> list[str]:
    """The lines printed before the table."""
    cfg = result.config
    k = cfg.directions if cfg.mode == "fast" else SWEEP_DIRECTIONS
    network = "-".join(map(str, result.sizes))
    user = cfg.user
    lines = [
        "twinprop gradcheck: are the hand-derived gradients right?" if user is None else
        f"twinprop gradcheck --twin: is your backprop right? ({user.name}, from {user.where})",
        f"  network  {network} ({result.n_params:,} parameters), {cfg.init} init, seed "
        f"{cfg.seed}, float64",
        f"  data     {cfg.batch} MNIST training images chosen by seed {cfg.seed} "
        f"(source: {result.data_source})",
        f"  mode     {cfg.mode}: {MODE_TEXT[cfg.mode].format(k=k)}",
    ]
    if user is None:
        lines.append(f"  oracles  each twin vs {'complex step' if cfg.mode == 'complex' else 'FD'}"
                     f" (numerical derivative of the loss), and every pair of twins; twins: "
                     f"{', '.join(cfg.twins)}")
    else:
        lines += user_oracle_lines(result)
    lines.append("  rule     " + "\n           ".join(rule_lines(cfg.mode)))
    return lines


def user_oracle_lines(result: SuiteResult) -> list[str]:
    """What a user's function was compared with, and which function its loss is."""
    user = result.config.user
    assert user is not None
    name = user.name
    lines = [f"  oracles  {name} vs FD: per element, finite differences of your loss (when it "
             "is the paper network's loss, or a multiple of it plus L2 terms);",
             f"           {name} vs own loss: your function's own loss, called as a black box, "
             f"along {result.config.directions} (or more) random directions per tensor;",
             f"           {name} vs <twin>: the registered twins' gradients, where your loss is "
             "the paper network's"]
    for act, check in result.user_checks.items():
        model = check.model
        how = (f"fitted at {model.points} points, largest miss {model.max_residual:.1e}"
               f" (rounding allows {model.tolerance:.1e})")
        lines.append(f"  loss     ({act}) yours is {model.describe()}"
                     + (f"; {how}" if model.fits else ""))
    return lines


def convention_line(activation: str, conv: dict[str, float | None]) -> str:
    """One line on the derivative at the kink under each convention."""
    measured = ", ".join(f"{key.removesuffix(' measured')} {value:g}"
                         for key, value in conv.items() if key.endswith(" measured"))
    return (f"  {activation} at z = 0 exactly: documented g'(0) = {conv['documented']:g}; "
            f"measured in each twin: {measured}; autograd's np.maximum would give "
            f"{conv['autograd np.maximum']:g}, a central difference gives "
            f"{conv['central difference']:g}")


def verdict_line(result: SuiteResult) -> str:
    """PASS or FAIL with what failed."""
    failed = [r for r in result.rows if r.verdict == FAIL]
    skipped = sum(r.verdict == "skip" for r in result.rows)
    acts = len(result.config.activations)
    extra = f", {skipped} skipped" if skipped else ""
    if not failed:
        return (f"PASS: all {len(result.rows) - skipped} checks passed "
                f"({acts} activation{'s' * (acts != 1)}{extra})")
    names = ", ".join(f"{r.activation} {r.oracle} {r.tensor}" for r in failed[:6])
    more = " ..." if len(failed) > 6 else ""
    return f"FAIL: {len(failed)} of {len(result.rows)} checks failed: {names}{more}"


def render_text(result: SuiteResult, files: Sequence[Path] = ()) -> str:
    """Header, table (grouped by activation, each with its time), verdict."""
    lines = header(result) + [""]
    widths = column_widths(result.rows)
    lines += format_table([], widths).split("\n")
    rows_by_act: dict[str, list[TensorCheck]] = {}
    for row in result.rows:
        rows_by_act.setdefault(row.activation, []).append(row)
    for act, rows in rows_by_act.items():
        lines += format_table(rows, widths).split("\n")[2:]
        n_fail = sum(r.verdict == FAIL for r in rows)
        timing = f"{result.seconds[act]:.2f} s"
        check = result.user_checks.get(act)
        if check is not None:
            timing += (f" ({check.calls} calls of your function, {check.user_seconds:.2f} s "
                       "inside it)")
        lines.append(f"  {act}: {result.n_params:,} parameters, "
                     f"{'all pass' if not n_fail else f'{n_fail} FAILED'}, "
                     f"mode {result.config.mode}: {timing}")
        for note in result.notes.get(act, []):
            lines.append(f"  {act}: {note}")
        if act in result.conventions:
            lines.append(convention_line(act, result.conventions[act]))
        lines.append("")
    for path in files:
        lines.append(f"wrote {path}")
    lines.append(verdict_line(result))
    return "\n".join(lines)


def render_json(result: SuiteResult, files: Sequence[Path] = ()) -> dict[str, Any]:
    """The result as a JSON-ready dict."""
    cfg = result.config
    return {
        "command": "gradcheck",
        "mode": cfg.mode,
        "network": result.sizes,
        "parameters": result.n_params,
        "init": cfg.init,
        "seed": cfg.seed,
        "batch": cfg.batch,
        "data_source": result.data_source,
        "rule": rule_lines(cfg.mode),
        "step": T.STEP if cfg.mode in ("full", "fast") else None,
        "sweep_steps": STEPS.tolist() if cfg.mode == "sweep" else None,
        "seconds": result.seconds,
        "kink_conventions": result.conventions,
        "checks": [to_dict(r) for r in result.rows],
        "twin": None if cfg.user is None else {"name": cfg.user.name, "where": cfg.user.where},
        "user": {act: {"loss_model": c.model.to_dict(), "calls": c.calls,
                       "user_seconds": c.user_seconds, "seconds": c.seconds}
                 for act, c in result.user_checks.items()},
        "notes": result.notes,
        "files": [str(p) for p in files],
        "passed": all_passed(result.rows),
    }


def render_selftest_text(st: dict[str, Any]) -> str:
    """The selftest's report for a person."""
    lines = [
        "twinprop gradcheck --selftest: do the checks catch known bugs?",
        f"  network {st['network']}, {st['batch']} samples (one blank, so relu "
        "pre-activations hit 0 exactly), float64",
        f"  each bug is injected into every twin ({', '.join(st['twins'])}); both modes "
        "(full, fast) must flag a tensor it changes",
        "",
    ]
    for c in st["controls"]:
        lines.append(f"[{'ok' if c.clean else 'FALSE ALARM'}] {c.twin} unmodified, "
                     f"{c.activation}: full {len(c.full_failed)} failed tensors, fast "
                     f"{len(c.fast_failed)} failed tensors")
    lines.append("")
    for bug, o in zip(st["bug_specs"], st["bugs"]):
        if not o.applicable:
            lines.append(f"[n/a] {bug.name} in {o.twin}: it takes no hand-written "
                         "derivative (autograd derives it)")
            continue
        lines.append(f"[{'caught' if o.caught else 'MISSED'}] {bug.name} in {o.twin} "
                     f"({bug.activation}): {bug.description}")
        lines.append("    full: " + _flag_text(o.full_rows))
        lines.append("    fast: " + _flag_text(o.fast_rows))
    lines.append("")
    applicable = [o for o in st["bugs"] if o.applicable]
    caught = sum(o.caught for o in applicable)
    if st["passed"]:
        lines.append(f"PASS: all {caught} injected bugs were flagged, and every unmodified "
                     "twin passed every check")
    else:
        lines.append(f"FAIL: {caught} of {len(applicable)} injected bugs flagged; see the "
                     "lines marked MISSED or FALSE ALARM")
    return "\n".join(lines)


def _flag_text(rows: list[TensorCheck]) -> str:
    failed = [r for r in rows if r.verdict == FAIL]
    if not failed:
        return "nothing flagged"
    worst = max(failed, key=lambda r: r.max_abs)
    if worst.localised is not None:
        where = (f"{worst.tensor}[{','.join(map(str, worst.localised))}] "
                 "(bisected from a direction)")
        detail = worst.note.split(": ", 1)[-1]
    else:
        where = f"{worst.tensor}[{','.join(map(str, worst.worst))}]"
        detail = f"analytic {worst.analytic:+.6e}, numeric {worst.numeric:+.6e}"
    return (f"flags {', '.join(r.tensor for r in failed)}; worst element {where}: {detail}")


def selftest_json(st: dict[str, Any]) -> dict[str, Any]:
    """The selftest as a JSON-ready dict."""
    def outcome(o: Outcome, bug: Bug | None = None) -> dict[str, Any]:
        d: dict[str, Any] = {"name": o.name, "twin": o.twin, "activation": o.activation,
             "expected": list(o.expected), "full_failed": o.full_failed,
             "fast_failed": o.fast_failed,
             "rows": [to_dict(r) for r in o.full_rows + o.fast_rows if r.verdict == FAIL]}
        if bug is not None:
            d["description"] = bug.description
            d["applicable"] = o.applicable
            d["caught"] = o.caught
        return d
    return {
        "command": "gradcheck --selftest",
        "network": st["network"], "batch": st["batch"], "twins": list(st["twins"]),
        "controls": [outcome(c) for c in st["controls"]],
        "bugs": [outcome(o, b) for b, o in zip(st["bug_specs"], st["bugs"])],
        "passed": st["passed"],
    }
