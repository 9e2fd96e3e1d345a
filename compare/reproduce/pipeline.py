"""One reproduction, start to end: plan, train (or reuse), draw, judge, report.

Layout of ``OUT``:
- ``runs/<key>/``: the cached runs, shared by every scale;
- ``<scale>/`` (full, quick or custom): figures/ (PNG + JSON + CSV),
  claims.json, report.md, report.html;
- ``derivatives/``: written by ``twinprop derivatives``; linked if present.
"""

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from compare.atomic import write_json
from compare.reproduce import confusion, plots, runner
from compare.reproduce import figures as F
from compare.reproduce.cache import RunCache, code_fingerprint, run_key
from compare.reproduce.claims import Measurements, evaluate_claims
from compare.reproduce.options import Options, check_options, scale_of
from compare.reproduce.report import FigureEntry, Reproduction, write_report
from compare.reproduce.results import RunOutcome, Series, largest_epoch_gap
from compare.reproduce.soundness import DamagedRun
from compare.train.config import TrainConfig, catalog_sizes

MISCLASSIFIED_SHOWN = 32

Outcomes = dict[str, RunOutcome]


def describe_scale(scale: F.Scale) -> str:
    """One sentence on the images and epochs of ``scale``."""
    sizes = catalog_sizes(F.DATASET)
    images = (f"{scale.train_subset or sizes.n_train:,} training and "
              f"{scale.test_subset or sizes.n_test:,} test images")
    epochs = ", ".join(f"fig {k}: {v}" for k, v in scale.epochs.items())
    return f"{images}; epochs {epochs} (fig 7 uses fig 6's tanh run)"


def describe_figure(figure: F.Figure, cfg: TrainConfig) -> str:
    """One sentence on a figure's setup: the base configuration and what varies.

    Args:
        figure: the figure.
        cfg: the TrainConfig of PAPER_SETUP at this scale.
    """
    varies = sorted({k for v in figure.variants for k in v.settings})
    labels = "; ".join(v.label for v in figure.variants)
    if not varies:
        what = ""
    elif len(figure.variants) == 1:
        what = f" Changed here: {labels}."
    else:
        what = f" Varies {', '.join(varies)}: {labels}."
    return describe_config(cfg) + what


def describe_config(cfg: TrainConfig) -> str:
    """One sentence on a configuration."""
    rate = (f"decaying rate {cfg.lr:g} / (1 + {cfg.decay:g} epoch)" if cfg.schedule == "decay"
            else f"{cfg.schedule} rate {cfg.lr:g}")
    batch = "the whole set" if cfg.batch_size is None else str(cfg.batch_size)
    return (f"Base setup: {cfg.activation}, 784-{'-'.join(map(str, cfg.hidden))}-10, "
            f"{F.INIT_LABELS.get(cfg.init, cfg.init)} initialisation, batch {batch}, {rate}, "
            f"{cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''}.")


def reproduce(options: Options, run_fn: runner.RunFn = runner.train,
              log: Callable[[str], None] | None = None) -> Path:
    """Run the reproduction; return the path of report.html.

    Raises:
        ConfigError: an option out of its domain (checked before any training).
    """
    check_options(options)
    scale, scale_name = scale_of(options)
    twins = options.twins
    table = F.figures(scale)
    cache = RunCache(options.out)
    outcomes = runner.run_all(F.plan(options.figures, scale, options.seeds), cache, twins,
                              options.jobs, options.scheduler, options.data_dir, run_fn, log)
    # Figures not asked for are drawn too when all their runs are cached already.
    drawn, not_drawn = [], []
    for number in F.FIGURE_NUMBERS:
        runs = F.plan([number], scale, options.seeds)
        found = _cached(cache, runs, twins, outcomes)
        if number in options.figures or found is not None:
            drawn.append(number)
            outcomes.update(found or {})
        else:
            not_drawn.append((number, f"not run yet (add --figure {number} to this command)"))
    series = {n: _series(table[n], F.plan([n], scale, options.seeds), outcomes, twins)
              for n in drawn}

    report_dir = Path(options.out) / scale_name
    figure_dir = report_dir / "figures"
    entries: list[FigureEntry] = []
    matrices: dict[str, NDArray[np.int64]] = {}
    for number in drawn:
        figure, runs = table[number], F.plan([number], scale, options.seeds)
        setup = describe_figure(figure, F.make_config({}, figure.epochs, 0, scale))
        if figure.kind == "curves":
            pngs = [plots.draw_curves(figure, list(series[number].values()), twins, figure_dir)]
        elif figure.kind == "hidden":
            pngs = [plots.draw_hidden(figure, list(series[number].values()), twins, figure_dir)]
        else:
            first = outcomes[run_key(runs[0].config, twins)]
            if not first.ok:
                not_drawn.append((number, f"its run diverged ({first.message})"))
                continue
            matrices, pngs = _figure7(figure, runs[0].config, first, twins, options, figure_dir)
            setup += (" Predictions of seed 0's network, each twin with its own parameters "
                      "and forward pass; the grid shows the first misclassified test images.")
        entries.append(FigureEntry(number, figure.title,
                                   [p.relative_to(report_dir).as_posix() for p in pngs], setup))

    claims = evaluate_claims(Measurements(twins, series, matrices))
    write_json(report_dir / "claims.json", [c.__dict__ for c in claims])
    rep = Reproduction(
        scale_name=scale_name, scale_text=describe_scale(scale), seeds=options.seeds,
        twins=twins, command=options.command, figures=entries, claims=claims,
        lockstep=_lockstep_rows(drawn, scale, options.seeds, outcomes, twins),
        runs=_run_rows(drawn, scale, options.seeds, outcomes, twins),
        not_drawn=sorted(not_drawn),
        derivatives=Path(options.out) / "derivatives")
    return write_report(rep, report_dir)[1]


def _cached(cache: RunCache, runs: list[F.Run], twins: Sequence[str],
            outcomes: Outcomes) -> Outcomes | None:
    """The outcomes of ``runs`` not in ``outcomes``, from the cache; None unless all are
    there, whole and sound."""
    found: Outcomes = {}
    for r in runs:
        key = run_key(r.config, twins)
        if key in outcomes or key in found:
            continue
        try:
            cached = cache.load(r.config, twins)
        except DamagedRun:
            return None
        if cached is None:
            return None
        found[key] = cached
    return found


def _series(figure: F.Figure, runs: list[F.Run], outcomes: Outcomes,
            twins: Sequence[str]) -> dict[str, Series]:
    """label -> Series of ``figure``, seeds in order."""
    by_label: dict[str, list[RunOutcome]] = {}
    for r in runs:
        by_label.setdefault(r.label, []).append(outcomes[run_key(r.config, twins)])
    return {v.label: Series(v.label, v.settings, by_label[v.label]) for v in figure.variants}


def _figure7(figure: F.Figure, cfg: TrainConfig, outcome: RunOutcome, twins: Sequence[str],
             options: Options, folder: Path
             ) -> tuple[dict[str, NDArray[np.int64]], list[Path]]:
    """Confusion matrices of figure 7's network (first seed) and its misclassified images."""
    data = runner.dataset(cfg.dataset, options.data_dir, cfg.dtype)
    X, y = data.x_test[:cfg.test_subset], np.asarray(data.y_test[:cfg.test_subset])
    matrices, pairs, predictions = {}, {}, {}
    for twin in twins:
        predictions[twin] = confusion.predict(twin, outcome.params[twin], X, cfg.activation)
        matrices[twin] = confusion.confusion_matrix(y, predictions[twin], data.n_classes)
        pairs[twin] = confusion.confused_pairs(matrices[twin])
    pngs = [plots.draw_confusion(figure, matrices, pairs, folder)]
    wrong = confusion.misclassified(y, predictions[twins[0]], MISCLASSIFIED_SHOWN)
    if X.shape[1] == 784:
        pngs.append(plots.draw_misclassified(X, y, predictions[twins[0]], wrong, twins[0],
                                             folder))
    return matrices, pngs


def _distinct(drawn: Sequence[str], scale: F.Scale, seeds: int,
              twins: Sequence[str]) -> list[tuple[str, F.Run, list[str]]]:
    """(key, first Run, figures using it) for every configuration of ``drawn``."""
    seen: dict[str, tuple[F.Run, list[str]]] = {}
    for r in F.plan(list(drawn), scale, seeds):
        key = run_key(r.config, twins)
        seen.setdefault(key, (r, []))[1].append(r.figure)
    return [(key, run, sorted(set(figs))) for key, (run, figs) in seen.items()]


def _lockstep_rows(drawn: Sequence[str], scale: F.Scale, seeds: int, outcomes: Outcomes,
                   twins: Sequence[str]) -> list[list[Any]]:
    """One row per distinct run: how far apart its twins ended up, and their speed.

    Both differences are the largest between any two twins (over every epoch).
    """
    rows: list[list[Any]] = []
    for key, run, figs in _distinct(drawn, scale, seeds, twins):
        outcome = outcomes[key]
        if not outcome.ok:
            rows.append(["/".join(figs), run.label, run.seed, "diverged", "", "", "",
                         *[""] * len(twins)])
            continue
        epochs = [outcome.metrics[t] for t in twins]
        seconds = [f"{np.mean([e['seconds'] for e in ep]):.2f}" for ep in epochs]
        n_epochs = len(epochs[0])
        if len(twins) > 1:
            dparam = _largest_param_diff(epochs)
            dacc = f"{100 * largest_epoch_gap(epochs, 'test_acc'):.3f}"
        else:
            dparam = dacc = "one twin"
        rows.append(["/".join(figs), run.label, run.seed, n_epochs,
                     f"{n_epochs * _steps_per_epoch(run.config):,}", dparam, dacc, *seconds])
    return rows


def _largest_param_diff(epochs: list[list[dict[str, Any]]]) -> str:
    """The trainer's max_param_diff (already the largest over twin pairs), over epochs."""
    values = [e.get("max_param_diff") for ep in epochs for e in ep]
    finite = [float(v) for v in values if isinstance(v, (int, float)) and np.isfinite(v)]
    return f"{max(finite):.2e}" if finite else "not recorded"


def _steps_per_epoch(cfg: TrainConfig) -> int:
    n = cfg.train_subset or catalog_sizes(cfg.dataset).n_train
    return -(-n // (cfg.batch_size or n))


def _run_rows(drawn: Sequence[str], scale: F.Scale, seeds: int, outcomes: Outcomes,
              twins: Sequence[str]) -> list[list[Any]]:
    current = code_fingerprint()
    return [[f"[{key}](../runs/{key}/metrics.json)", "/".join(figs), run.label, run.seed,
             outcomes[key].status, f"{outcomes[key].wall_seconds:.0f}",
             "current" if outcomes[key].code == current else f"older ({outcomes[key].code})"]
            for key, run, figs in _distinct(drawn, scale, seeds, twins)]
