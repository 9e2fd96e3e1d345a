"""report.md and its self-contained twin report.html.

The Markdown is the one source: the HTML is rendered from it (mdhtml) with
every figure embedded, so the page can be mailed or archived on its own.
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compare.atomic import write_text
from compare.reproduce import claims as C
from compare.reproduce.mdhtml import to_html

TITLE = 'Reproducing "Backpropagation on MNIST" with twins trained in lockstep'


@dataclass
class FigureEntry:
    """One drawn figure: its number, title, the PNGs and a line on its setup."""

    number: str
    title: str
    pngs: list[str]     # paths relative to the report folder
    setup: str


@dataclass
class Reproduction:
    """Everything the report shows (paths relative to the report folder)."""

    scale_name: str
    scale_text: str
    seeds: int
    twins: tuple[str, ...]
    command: str
    figures: list[FigureEntry]
    claims: list[C.Claim]
    # rows: figs, label, seed, epochs, steps, dparam, dacc, seconds per epoch of each twin
    lockstep: list[list[Any]]
    runs: list[list[Any]]         # rows: key, figs, label, seed, status, wall s, code
    not_drawn: list[tuple[str, str]] = field(default_factory=list)  # (figure, reason)
    derivatives: Path | None = None  # the derivatives study's folder, if it exists


def _cell(text: object) -> str:
    # A bare pipe would split the table cell, a line break end the table.
    return " ".join(str(text).split()).replace("|", "\\|")


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _claims_section(claims: list[C.Claim], twins: Sequence[str]) -> list[str]:
    counts = {v: sum(c.verdict == v for c in claims)
              for v in (C.REPRODUCED, C.NOT_REPRODUCED, C.NOT_MEASURED)}
    lines = ["## The paper's claims against the measurements", "",
             f"{counts[C.REPRODUCED]} reproduced, {counts[C.NOT_REPRODUCED]} not reproduced, "
             f"{counts[C.NOT_MEASURED]} not measured. Each verdict follows from the rule beside "
             f"it and holds only if it holds for every twin ({', '.join(twins)}).", ""]
    rows = [(c.paper, c.figures, c.rule, c.measured, f"**{c.verdict}**") for c in claims]
    return lines + _table(["claim (paper)", "fig", "rule", "measured", "verdict"], rows) + [""]


def _figures_section(rep: Reproduction) -> list[str]:
    lines = ["## Figures", ""]
    for entry in rep.figures:
        lines += [f"### Figure {entry.number}: {entry.title}", "", entry.setup, ""]
        for png in entry.pngs:
            stem = Path(png).with_suffix("")
            lines += [f"![Figure {entry.number}]({png})", "",
                      f"Data: [{stem.name}.json]({stem}.json), [{stem.name}.csv]({stem}.csv)", ""]
    for number, reason in rep.not_drawn:
        lines += [f"### Figure {number}", "", f"Not drawn: {reason}.", ""]
    return lines


def _lockstep_section(rep: Reproduction) -> list[str]:
    twins = list(rep.twins)
    lines = ["## The twins in lockstep", "",
             "Every twin starts from the same parameters and sees the same batches, so any "
             "difference between them comes from their gradients alone: rounding at first, "
             "and whatever the steps since then have made of it. Both differences below are "
             "the largest between any two twins, over every epoch.", ""]
    header = ["figures", "run", "seed", "epochs", "SGD steps", "largest parameter difference",
              "largest test accuracy difference (points)",
              *[f"{t} s/epoch" for t in twins]]
    return lines + _table(header, rep.lockstep) + [""]


def _derivatives_section(folder: Path | None, report_dir: Path) -> list[str]:
    if folder is None or not (Path(folder) / "summary.md").is_file():
        return ["## Derivatives study", "",
                f"Not found: run `twinprop derivatives --out {folder}` and then this command "
                "again to add the hand, autograd and finite-difference derivatives of every "
                "activation here.", ""]
    rel = Path(os.path.relpath(folder, report_dir))
    lines = ["## Derivatives study", "",
             f"From `twinprop derivatives` ([summary.md]({rel / 'summary.md'})):", ""]
    for line in (Path(folder) / "summary.md").read_text(encoding="utf-8").splitlines():
        # Its headings sit below this section's.
        lines.append("##" + line if line.startswith("#") else line)
    lines.append("")
    for png in sorted(Path(folder).glob("*.png")):
        lines += [f"![{png.stem}]({rel / png.name})", ""]
    return lines


def render_markdown(rep: Reproduction, report_dir: Path) -> str:
    """The report as Markdown."""
    bands = " (curves are mean ± one standard deviation)" if rep.seeds > 1 else ""
    lines = [f"# {TITLE}", "",
             f"Written by `{rep.command}`. Scale: {rep.scale_text}. Seeds per "
             f"configuration: {rep.seeds}{bands}. "
             f"Twins: {', '.join(rep.twins)}, trained in lockstep.", ""]
    if rep.scale_name != "full":
        lines += [f"**This is a reduced ({rep.scale_name}) reproduction**: fewer images and "
                  "epochs than the paper, so the verdicts below judge the reduced setting. "
                  "Run `twinprop reproduce` without --quick for the real one.", ""]
    lines += _claims_section(rep.claims, rep.twins)
    lines += _figures_section(rep)
    lines += _lockstep_section(rep)
    lines += _derivatives_section(rep.derivatives, report_dir)
    lines += ["## Runs", "",
              "Each configuration trained once, cached in `runs/<key>/` (config.json, "
              "metrics.json, params-<twin>.npz); a new `twinprop reproduce` reuses them.", ""]
    older = sum(row[-1] != "current" for row in rep.runs)
    if older:
        lines += [f"**{older} run(s) were trained by an earlier version of the twins or the "
                  "trainer** (code column); delete their folders in `runs/` to retrain them.", ""]
    lines += _table(["key", "figures", "run", "seed", "status", "wall seconds", "code"],
                    rep.runs)
    return "\n".join(lines) + "\n"


def write_report(rep: Reproduction, report_dir: Path) -> tuple[Path, Path]:
    """Write report.md and report.html into ``report_dir``; returns both paths."""
    report_dir = Path(report_dir)
    markdown = render_markdown(rep, report_dir)
    md_path, html_path = report_dir / "report.md", report_dir / "report.html"
    write_text(md_path, markdown)
    write_text(html_path, to_html(markdown, report_dir, TITLE))
    return md_path, html_path
