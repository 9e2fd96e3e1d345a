"""``twinprop derivatives``: the derivatives study, as figures, data and a summary.

Writes into ``--out DIR``: derivatives.png and derivative_errors.png (data:
derivatives.json), vcurves.png (data: vcurves.json), kink.png (data:
kink.json, when an activation studied has a kink) and summary.md. Every
file is written atomically; files already in DIR are overwritten only with
``--force``, which also removes those of the study's files this run does
not write (other files in DIR are kept). ``--activation PATH.py:NAME``
studies a user's own activation and also checks its derivative
(check.json), exiting 1 when it is wrong.
"""

import argparse
from pathlib import Path
from typing import Any

from compare.atomic import check_output_dir, write_bytes, write_json, write_text
from compare.common.errors import ConfigError
from compare.jsonable import to_jsonable

# Every file the command may write, in the order it writes them.
OUTPUT_FILES = (
    "derivatives.json", "derivatives.png", "derivative_errors.png",
    "vcurves.json", "vcurves.png",
    "kink.json", "kink.png",
    "check.json",
    "summary.md",
)


def add_parser(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Register ``twinprop derivatives``."""
    parser = subparsers.add_parser(
        "derivatives",
        help="plot each activation's derivative by hand, autograd and finite differences",
        description="For each activation: g and g' by hand, by autograd and by central "
                    "differences; the finite difference's error against its step in "
                    "float64 and float32; what each method says at relu's kink. Writes "
                    "PNGs, their JSON data and summary.md into DIR. With --activation "
                    "PATH.py:NAME, your own activation (NAME and NAME_prime in the file), "
                    "whose derivative is also checked: exit status 1 when it is wrong.",
    )
    parser.add_argument("--out", required=True, metavar="DIR", type=Path,
                        help="folder to write the figures, data and summary.md into")
    parser.add_argument("--activation", default="all", metavar="NAME",
                        help="a built-in activation, 'all' (default), or your own as "
                             "PATH.py:NAME")
    parser.add_argument("--force", action="store_true",
                        help="overwrite files of an earlier run in DIR (and remove those "
                             "of its files this run does not write)")
    parser.set_defaults(func=run)


def check_out_dir(out: Path, force: bool) -> None:
    """Raise ConfigError if ``out`` is unusable, or already holds our files and not ``force``."""
    check_output_dir(out, "--out")
    existing = [name for name in OUTPUT_FILES if (out / name).exists()]
    if existing and not force:
        raise ConfigError(
            f"{out} already holds {', '.join(existing[:3])}{' ...' if len(existing) > 3 else ''}; "
            "pass --force to overwrite them or choose another --out")


def run(args: argparse.Namespace) -> int:
    """Compute the study, write every file into ``args.out``; 0, or 1 for a wrong derivative."""
    # Heavy imports here, so `twinprop --help` stays fast.
    from compare.derivatives import plots as plot_derivatives
    from compare.derivatives import study as derivatives
    from compare.derivatives import summary as derivatives_summary
    from compare.gradcheck.suite import resolve_activations
    from compare.gradcheck.useractivation import check_finite
    from compare.gradcheck.usercode import split_spec

    out = args.out
    check_out_dir(out, args.force)
    acts = [derivatives.resolve(a) for a in resolve_activations(args.activation)]
    custom = [a for a in acts if not derivatives.is_builtin(a)]
    for act in custom:      # the study's grid is its own, not quite the check's
        check_finite(act, derivatives.Z_GRID, split_spec(args.activation)[0])
    kinked = [a.name for a in acts if derivatives.is_builtin(a) and a.name in derivatives.KINKED]
    table = derivatives.derivative_table(names=acts)
    curves = derivatives.vcurves(names=acts)
    data: dict[str, Any] = {"derivatives": to_jsonable(table, nonfinite_as_none=True),
                            "vcurves": to_jsonable(curves, nonfinite_as_none=True)}
    figures = {
        "derivatives.png": plot_derivatives.plot_derivatives(data["derivatives"]),
        "derivative_errors.png": plot_derivatives.plot_derivative_errors(data["derivatives"]),
        "vcurves.png": plot_derivatives.plot_vcurves(data["vcurves"]),
    }
    if kinked:
        data["kink"] = to_jsonable(derivatives.kink_study(names=kinked), nonfinite_as_none=True)
        figures["kink.png"] = plot_derivatives.plot_kink(data["kink"])
    check_text, passed = "", True
    if custom:
        check_text, data["check"], passed = _check_custom(custom)
    summary = derivatives_summary.summarize(data["derivatives"], data["vcurves"],
                                            data.get("kink", {}))
    if check_text:
        summary += "\n## Your derivative, checked\n\n```\n" + check_text + "\n```\n"
    for name in OUTPUT_FILES:
        path = out / name
        stem = name.rsplit(".", 1)[0]
        if name.endswith(".json") and stem in data:
            write_json(path, data[stem])
        elif name in figures:
            write_bytes(path, figures[name])
        elif name == "summary.md":
            write_text(path, summary)
        else:
            # Not written by this run: one left by an earlier run (only there
            # with --force) would pass for this run's.
            path.unlink(missing_ok=True)
            continue
        print(f"wrote {path}")
    if check_text:
        print(check_text)
    return 0 if passed else 1


def _check_custom(acts: list) -> tuple[str, list[dict[str, Any]], bool]:
    """The derivative check of each user activation: (table text, JSON rows, passed)."""
    from compare.gradcheck.report import FAIL, format_table, to_dict
    from compare.gradcheck.useractivation import derivative_rows
    rows = []
    notes = []
    for act in acts:
        more, lines = derivative_rows(act)
        rows += more
        notes += lines
    failed = [r for r in rows if r.verdict == FAIL]
    verdict = (f"FAIL: {len(failed)} of {len(rows)} derivative checks failed" if failed else
               f"PASS: the derivative agrees with every oracle that applies ({len(rows)} rows)")
    text = "\n".join([format_table(rows), *notes, verdict])
    return text, [to_dict(r) for r in rows], not failed
