"""``twinprop derivatives``: the derivatives study, as figures, data and a summary.

Writes into ``--out DIR``: derivatives.png and derivative_errors.png (data:
derivatives.json), vcurves.png (data: vcurves.json), kink.png (data:
kink.json) and summary.md. Every file is written atomically; files already in
DIR are overwritten only with ``--force``.
"""

from pathlib import Path

from compare.atomic import write_bytes, write_json, write_text
from compare.common.errors import ConfigError
from compare.jsonable import to_jsonable

# Every file the command writes, in the order it writes them.
OUTPUT_FILES = (
    "derivatives.json", "derivatives.png", "derivative_errors.png",
    "vcurves.json", "vcurves.png",
    "kink.json", "kink.png",
    "summary.md",
)


def add_parser(subparsers):
    """Register ``twinprop derivatives``."""
    parser = subparsers.add_parser(
        "derivatives",
        help="plot each activation's derivative by hand, autograd and finite differences",
        description="For each activation: g and g' by hand, by autograd and by central "
                    "differences; the finite difference's error against its step in "
                    "float64 and float32; what each method says at relu's kink. Writes "
                    "PNGs, their JSON data and summary.md into DIR.",
    )
    parser.add_argument("--out", required=True, metavar="DIR", type=Path,
                        help="folder to write the figures, data and summary.md into")
    parser.add_argument("--force", action="store_true",
                        help="overwrite files of an earlier run in DIR")
    parser.set_defaults(func=run)


def check_out_dir(out, force):
    """Raise ConfigError if ``out`` is a file, or already holds our files and not ``force``."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a folder; choose a folder path")
    existing = [name for name in OUTPUT_FILES if (out / name).exists()]
    if existing and not force:
        raise ConfigError(
            f"{out} already holds {', '.join(existing[:3])}{' ...' if len(existing) > 3 else ''}; "
            "pass --force to overwrite them or choose another --out")


def run(args):
    """Compute the study, write every file into ``args.out``; returns 0."""
    # Heavy imports here, so `twinprop --help` stays fast.
    from compare.derivatives import plots as plot_derivatives
    from compare.derivatives import study as derivatives
    from compare.derivatives import summary as derivatives_summary

    out = args.out
    check_out_dir(out, args.force)
    table = derivatives.derivative_table()
    curves = derivatives.vcurves()
    kinks = derivatives.kink_study()
    data = {name: to_jsonable(obj, nonfinite_as_none=True) for name, obj in
            (("derivatives", table), ("vcurves", curves), ("kink", kinks))}
    figures = {
        "derivatives.png": plot_derivatives.plot_derivatives(data["derivatives"]),
        "derivative_errors.png": plot_derivatives.plot_derivative_errors(data["derivatives"]),
        "vcurves.png": plot_derivatives.plot_vcurves(data["vcurves"]),
        "kink.png": plot_derivatives.plot_kink(data["kink"]),
    }
    for name in OUTPUT_FILES:
        path = out / name
        stem = name.rsplit(".", 1)[0]
        if name.endswith(".json"):
            write_json(path, data[stem])
        elif name.endswith(".png"):
            write_bytes(path, figures[name])
        else:
            write_text(path, derivatives_summary.summarize(
                data["derivatives"], data["vcurves"], data["kink"]))
        print(f"wrote {path}")
    return 0
