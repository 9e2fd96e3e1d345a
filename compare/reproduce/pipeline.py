"""One reproduction, start to end: plan, train (or reuse), draw, judge, report.

Layout of ``OUT``:
- ``runs/<key>/``: the cached runs, shared by every scale;
- ``<scale>/`` (full, quick or custom): figures/ (PNG + JSON + CSV),
  claims.json, report.md, report.html;
- ``derivatives/``: written by ``twinprop derivatives``; linked if present.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compare.atomic import write_json
from compare.reproduce import confusion, plots, runner
from compare.reproduce import figures as F
from compare.reproduce.cache import RunCache, code_fingerprint, run_key
from compare.reproduce.claims import Measurements, evaluate_claims
from compare.reproduce.report import FigureEntry, Reproduction, write_report
from compare.reproduce.results import Series

MISCLASSIFIED_SHOWN = 32
TRAIN_IMAGES = 60_000  # MNIST's training set, when no subset is taken


@dataclass
class Options:
    """What ``twinprop reproduce`` was asked to do."""

    figures: tuple = F.FIGURE_NUMBERS
    quick: bool = False
    seeds: int = 1
    jobs: int = None
    scheduler: str = None
    out: Path = Path("twinprop-out")
    data_dir: Path = None
    epochs: int = None
    train_subset: int = None
    test_subset: int = None
    command: str = "twinprop reproduce"


def scale_of(options):
    """The Scale the options ask for, and its name (full, quick or custom)."""
    scale = F.QUICK if options.quick else F.FULL
    custom = any(v is not None for v in (options.epochs, options.train_subset,
                                         options.test_subset))
    scale = F.adjust(scale, options.epochs, options.train_subset, options.test_subset)
    return scale, ("custom" if custom else scale.name)


def describe_scale(scale):
    images = (f"{scale.train_subset or 60000:,} training and {scale.test_subset or 10000:,} "
              f"test images")
    epochs = ", ".join(f"fig {k}: {v}" for k, v in scale.epochs.items())
    return f"{images}; epochs {epochs} (fig 7 uses fig 6's tanh run)"


def describe_figure(figure, cfg):
    """One sentence on a figure's setup: the base configuration and what varies.

    Args:
        figure: figures.Figure.
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


def describe_config(cfg):
    """One sentence on a configuration."""
    rate = (f"decaying rate {cfg.lr:g} / (1 + {cfg.decay:g} epoch)" if cfg.schedule == "decay"
            else f"{cfg.schedule} rate {cfg.lr:g}")
    batch = "the whole set" if cfg.batch_size is None else str(cfg.batch_size)
    return (f"Base setup: {cfg.activation}, 784-{'-'.join(map(str, cfg.hidden))}-10, "
            f"{F.INIT_LABELS.get(cfg.init, cfg.init)} initialisation, batch {batch}, {rate}, "
            f"{cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''}.")


def reproduce(options, run_fn=runner.train, log=None):
    """Run the reproduction; return the path of report.html."""
    scale, scale_name = scale_of(options)
    twins = runner.TWINS
    table = F.figures(scale)
    cache = RunCache(options.out)
    outcomes = runner.run_all(F.plan(options.figures, scale, options.seeds), cache, twins,
                              options.jobs, options.scheduler, options.data_dir, run_fn, log)
    # Figures not asked for are drawn too when all their runs are cached already.
    drawn, not_drawn = [], []
    for number in F.FIGURE_NUMBERS:
        runs = F.plan([number], scale, options.seeds)
        if number in options.figures or all(cache.has(r.config, twins) for r in runs):
            drawn.append(number)
            for r in runs:
                key = run_key(r.config, twins)
                if key not in outcomes:
                    outcomes[key] = cache.load(r.config, twins)
        else:
            not_drawn.append((number, f"not run yet (add --figure {number} to this command)"))
    series = {n: _series(table[n], F.plan([n], scale, options.seeds), outcomes, twins)
              for n in drawn}

    report_dir = Path(options.out) / scale_name
    figure_dir = report_dir / "figures"
    entries, matrices = [], {}
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

    claims = evaluate_claims(Measurements(series, matrices))
    write_json(report_dir / "claims.json", [c.__dict__ for c in claims])
    rep = Reproduction(
        scale_name=scale_name, scale_text=describe_scale(scale), seeds=options.seeds,
        twins=twins, command=options.command, figures=entries, claims=claims,
        lockstep=_lockstep_rows(drawn, scale, options.seeds, outcomes, twins),
        runs=_run_rows(drawn, scale, options.seeds, outcomes, twins),
        not_drawn=sorted(not_drawn),
        derivatives=Path(options.out) / "derivatives")
    return write_report(rep, report_dir)[1]


def _series(figure, runs, outcomes, twins):
    """dict label -> Series of ``figure``, seeds in order."""
    by_label = {}
    for r in runs:
        by_label.setdefault(r.label, []).append(outcomes[run_key(r.config, twins)])
    return {v.label: Series(v.label, v.settings, by_label[v.label]) for v in figure.variants}


def _figure7(figure, cfg, outcome, twins, options, folder):
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


def _distinct(drawn, scale, seeds, twins):
    """(key, first Run, figures using it) for every configuration of ``drawn``."""
    seen = {}
    for r in F.plan(drawn, scale, seeds):
        key = run_key(r.config, twins)
        seen.setdefault(key, (r, []))[1].append(r.figure)
    return [(key, run, sorted(set(figs))) for key, (run, figs) in seen.items()]


def _largest(values):
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return max(finite) if finite else float("nan")


def _lockstep_rows(drawn, scale, seeds, outcomes, twins):
    rows = []
    for key, run, figs in _distinct(drawn, scale, seeds, twins):
        outcome = outcomes[key]
        if not outcome.ok:
            rows.append(["/".join(figs), run.label, run.seed, "diverged", "", "", "",
                         *[""] * len(twins)])
            continue
        epochs = {t: outcome.metrics[t] for t in twins}
        dparam = _largest(e.get("max_param_diff") for e in epochs[twins[0]])
        dacc = _largest(abs(a["test_acc"] - b["test_acc"])
                        for a, b in zip(epochs[twins[0]], epochs[twins[-1]]))
        seconds = [f"{np.mean([e['seconds'] for e in epochs[t]]):.2f}" for t in twins]
        n_epochs = len(epochs[twins[0]])
        rows.append(["/".join(figs), run.label, run.seed, n_epochs,
                     f"{n_epochs * _steps_per_epoch(run.config):,}",
                     f"{dparam:.2e}", f"{100 * dacc:.3f}", *seconds])
    return rows


def _steps_per_epoch(cfg):
    n = cfg.train_subset or TRAIN_IMAGES
    return -(-n // (cfg.batch_size or n))


def _run_rows(drawn, scale, seeds, outcomes, twins):
    current = code_fingerprint()
    return [[f"[{key}](../runs/{key}/metrics.json)", "/".join(figs), run.label, run.seed,
             outcomes[key].status, f"{outcomes[key].wall_seconds:.0f}",
             "current" if outcomes[key].code == current else f"older ({outcomes[key].code})"]
            for key, run, figs in _distinct(drawn, scale, seeds, twins)]
