"""``twinprop train``, ``twinprop compare`` and ``twinprop plot``.

``train`` trains one twin; ``compare`` trains several in lockstep (every
registered twin by default) and draws their curves side by side; ``plot``
redraws a run's curves.png from its metrics.json. Every option left out
takes TrainConfig's default, which reproduces the paper's best setting; with
``--resume`` it takes the value in the run's config.json instead.

Everything that can be checked is checked before the data set is loaded or
a file is touched, in this order: the output folder, the options
(TrainConfig), the memory the run needs, and on --resume every file of the
run folder. Exit statuses: 0 done, 1 the run failed (diverged, ended no
better than chance, could not save), 2 bad input, 130 Ctrl-C.
"""

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from compare.atomic import check_output_file
from compare.cli.app import whole_number
from compare.common.dtypes import DTYPES
from compare.common.errors import ConfigError, DivergenceError
from compare.train.config import TrainConfig, catalog_sizes
from compare.train.curves import plot_curves, plot_run
from compare.train.memory import check_memory
from compare.train.run_files import (
    CURVES_NAME,
    Metrics,
    check_out_dir,
    prepare_out_dir,
    read_metrics,
)
from compare.train.run_state import open_run, saved_config
from compare.train.schedules import SCHEDULES
from compare.train.trainer import TrainingInterrupted, run_training
from compare.twins import DESCRIPTIONS, TWINS, check_twin_names

DEFAULT_TWIN = "buffered"

# Options that map one-to-one onto TrainConfig fields (argparse dest == field).
CONFIG_OPTIONS = ("activation", "hidden", "init", "batch_size", "lr", "schedule", "decay",
                  "step_every", "epochs", "seed", "dtype", "dataset", "train_subset",
                  "test_subset")


def add_parser(subparsers: Any) -> None:
    """Register the train, compare and plot subcommands."""
    train = subparsers.add_parser(
        "train", help="train one twin with minibatch SGD",
        description="Train one twin on a data set; writes config.json, metrics.json, "
                    "checkpoint.npz and curves.png into --out.")
    train.add_argument("--twin", choices=tuple(TWINS), default=None,
                       help="which twin to train: " + "; ".join(
                           f"{name}: {text}" for name, text in DESCRIPTIONS.items())
                       + f" (default: {DEFAULT_TWIN})")
    _add_training_options(train, "train")
    train.set_defaults(func=run_train)

    compare = subparsers.add_parser(
        "compare", help="train the twins in lockstep and plot them side by side",
        description="Train several twins from the same parameters on the same batches; "
                    "writes curves.png with every twin's curves and the largest difference "
                    "between any two twins' parameters per epoch.")
    compare.add_argument("--twins", type=_twin_list, default=None, metavar="A,B,...",
                         help=f"comma-separated twins to train in lockstep "
                              f"(default: all of {','.join(TWINS)})")
    _add_training_options(compare, "compare")
    compare.set_defaults(func=run_compare)

    plot = subparsers.add_parser(
        "plot", help="redraw a run's curves.png from its metrics.json",
        description="Redraw RUN_DIR/curves.png from RUN_DIR/metrics.json (no training).")
    plot.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by train or compare")
    plot.add_argument("--out", default=None, help="where to write the PNG "
                                                  "(default: RUN_DIR/curves.png)")
    plot.set_defaults(func=run_plot)


def _add_training_options(parser: argparse.ArgumentParser, command: str) -> None:
    d = TrainConfig  # class attributes hold the field defaults
    add = parser.add_argument
    # default=None everywhere: None means "not given", so --resume can tell
    # the options a user typed from the ones left out. The types only parse;
    # TrainConfig checks every value's range, for options and config.json alike.
    add("--activation", default=None,
        help=f"hidden activation: {', '.join(_names('activations'))} (default: {d.activation})")
    add("--hidden", type=_whole_number, action="append", default=None, metavar="N",
        help=f"width of a hidden layer; repeat for more layers, e.g. --hidden 100 --hidden 50 "
             f"(default: {' '.join(map(str, d.hidden))})")
    add("--init", default=None,
        help=f"weight initialisation: {', '.join(_names('inits'))} (default: {d.init})")
    add("--batch-size", type=_batch_size, default=None, metavar="N|full",
        help=f"examples per SGD step, 1 for plain SGD, 'full' for the whole training set "
             f"(default: {d.batch_size})")
    add("--lr", type=_number, default=None,
        help=f"initial learning rate lr0 (default: {d.lr})")
    add("--schedule", choices=tuple(SCHEDULES), default=None,
        help=f"learning-rate schedule; decay is lr0 / (1 + k * epoch) (default: {d.schedule})")
    add("--decay", type=_number, default=None, metavar="K",
        help=f"the schedule's k (default: {d.decay})")
    add("--step-every", type=_whole_number, default=None, metavar="N",
        help=f"epochs between steps of the step schedule (default: {d.step_every})")
    add("--epochs", type=_whole_number, default=None, help=f"default: {d.epochs}")
    add("--seed", type=_whole_number, default=None,
        help=f"seed of the initialisation and batch order (default: {d.seed})")
    add("--dtype", choices=DTYPES, default=None, help=f"default: {d.dtype}")
    add("--dataset", default=None,
        help=f"data set: {', '.join(_names('datasets'))} (default: {d.dataset})")
    add("--data-dir", default=None, help="folder with the data set's files "
                                         "(default: the twinprop cache)")
    add("--train-subset", type=_whole_number, default=None, metavar="N",
        help="train on the first N training examples only (default: all)")
    add("--test-subset", type=_whole_number, default=None, metavar="N",
        help="evaluate on the first N test examples only (default: all)")
    add("--out", default=None, metavar="DIR",
        help=f"run folder (default: runs/{command}-<timestamp>)")
    add("--force", action="store_true", help="overwrite the run files in an existing --out")
    add("--resume", action="store_true",
        help="continue the interrupted run in --out (options default to its config.json)")
    add("--quiet", action="store_true", help="no progress bar and no per-epoch lines")


def _names(kind: str) -> tuple[str, ...]:
    from compare.train import config as train_config
    names: tuple[str, ...] = getattr(train_config, f"known_{kind}")()
    return names


def _twin_list(text: str) -> tuple[str, ...]:
    """argparse type: comma-separated names of registered twins."""
    try:
        return check_twin_names(text)
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


# argparse type: any whole number (its range is TrainConfig's to judge).
_whole_number = whole_number()


def _number(text: str) -> float:
    """argparse type: any number (its range is TrainConfig's to judge)."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def _batch_size(text: str) -> "int | str":
    return "full" if text == "full" else _whole_number(text)


def run_train(args: argparse.Namespace) -> int:
    """``twinprop train``: one twin."""
    return _run(args, "train")


def run_compare(args: argparse.Namespace) -> int:
    """``twinprop compare``: several twins in lockstep."""
    return _run(args, "compare")


def run_plot(args: argparse.Namespace) -> int:
    """``twinprop plot RUN_DIR``: redraw curves.png from metrics.json."""
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        where = "is not a folder" if run_dir.exists() else "does not exist"
        raise ConfigError(f"{run_dir} {where}; point at a folder written by 'twinprop train' "
                          f"or 'twinprop compare'")
    out = check_output_file(args.out if args.out else run_dir / CURVES_NAME, "--out")
    plot_curves(read_metrics(run_dir), out, title=run_dir.name)
    print(f"wrote {out}")
    return 0


def _run(args: argparse.Namespace, command: str) -> int:
    if args.resume and args.out is None:
        raise ConfigError("--resume needs the run folder; add --out runs/NAME")
    out = Path(args.out or f"runs/{command}-{time.strftime('%Y%m%d-%H%M%S')}")
    out = check_out_dir(out, force=args.force, resume=args.resume)
    cfg, twins = _config_and_twins(args, command, out)
    sizes = catalog_sizes(cfg.dataset)
    check_memory(cfg, twins, sizes)
    start = open_run(out, cfg, twins, sizes) if args.resume else None
    from compare.data.load import load_dataset
    data = load_dataset(name=cfg.dataset, data_dir=args.data_dir, dtype=cfg.dtype,
                        seed=cfg.seed, quiet=args.quiet)
    # Only now is --out touched: --force removes the old run's files, which
    # a run refused by any check above must not cost.
    out = prepare_out_dir(out, force=args.force, resume=args.resume)
    if not args.quiet:
        names = " and ".join([", ".join(twins[:-1]), twins[-1]] if len(twins) > 1 else twins)
        print(f"{command}: {names} on {data.name} ({data.source}); "
              f"{_describe(cfg)}; writing {out}")
    on_epoch = None if args.quiet else (lambda record: print(_epoch_line(record, cfg.epochs),
                                                              flush=True))
    try:
        result = run_training(cfg, twins, data, out, progress=not args.quiet,
                              resume=args.resume, on_epoch=on_epoch, start=start)
    except TrainingInterrupted as stop:
        n = stop.completed_epochs
        saved = (f"after {n} completed epoch{'s' if n != 1 else ''}, saved in {out}" if n
                 else "before the first epoch ended")
        print(f"twinprop: interrupted {saved}; continue with: "
              f"twinprop {command} --resume --out {out}", file=sys.stderr)
        return 130
    except DivergenceError:
        # The epochs completed before are saved; draw them, so the folder is whole.
        if any(read_metrics(out).values()):
            plot_run(out)
        raise
    curves = plot_run(out)
    for twin, epochs in result.metrics.items():
        last = epochs[-1]
        print(f"{twin}: {100 * last['test_acc']:.2f}% test accuracy after {last['epoch']} epochs")
    print(f"wrote {out}/config.json, metrics.json, checkpoint.npz and {curves}")
    verdict = no_better_than_chance(result.metrics, cfg, data.y_train[:cfg.train_subset],
                                    data.n_classes)
    if verdict:
        raise DivergenceError(verdict)
    return 0


def no_better_than_chance(metrics: Metrics, cfg: TrainConfig, y_train: np.ndarray,
                          n_classes: int) -> str | None:
    """One line saying which twins ended no better than chance, or None if none did.

    The loss is computed stably, so a far too large learning rate need not
    give NaN: it can saturate or kill every hidden unit and leave a finite
    but useless network. Chance is either of two guesses: the uniform one,
    whose loss is log(n_classes), and always answering the most common class,
    whose accuracy is that class's share of the training labels.

    Args:
        metrics: dict twin -> list of per-epoch dicts (train_loss, train_acc, ...).
        cfg: the run's TrainConfig.
        y_train: (n_train,) the training labels the run trained on.
        n_classes: number of classes.
    """
    chance_loss = float(np.log(n_classes))
    majority = float(np.bincount(y_train, minlength=n_classes).max() / len(y_train))
    above = [t for t, e in metrics.items() if e[-1]["train_loss"] >= chance_loss]
    flat = [t for t, e in metrics.items() if t not in above and e[-1]["train_acc"] <= majority]
    if above:
        losses = ", ".join(f"{metrics[t][-1]['train_loss']:.4g}" for t in above)
        return (f"the {_twins_phrase(above)} training loss ended at {losses}, above chance "
                f"level (log {n_classes} = {chance_loss:.2f}); the learning rate {cfg.lr:g} "
                f"is probably too high: try --lr {cfg.lr / 10:g}")
    if flat:
        accs = ", ".join(f"{100 * metrics[t][-1]['train_acc']:.2f}%" for t in flat)
        return (f"the {_twins_phrase(flat)} training accuracy ended at {accs}, no better than "
                f"always answering the most common class ({100 * majority:.2f}%); try "
                f"another --lr (--lr {cfg.lr / 10:g} if the loss rose) or more --epochs")
    return None


def _twins_phrase(twins: list[str]) -> str:
    return f"{twins[0]} twin's" if len(twins) == 1 else f"{', '.join(twins)} twins'"


def _config_and_twins(args: argparse.Namespace, command: str,
                      out: Path) -> tuple[TrainConfig, tuple[str, ...]]:
    """Build the TrainConfig and twin list from the options (and config.json on --resume)."""
    given = {name: getattr(args, name) for name in CONFIG_OPTIONS
             if getattr(args, name) is not None}
    if given.get("batch_size") == "full":
        given["batch_size"] = None
    if args.resume:
        saved, saved_twins = saved_config(out)
        base: dict[str, Any] = saved.to_dict()
    else:
        base, saved_twins = {}, ()
    cfg = TrainConfig.from_dict({**base, **given})
    twins: tuple[str, ...]
    if command == "compare":
        twins = args.twins or (saved_twins if saved_twins else tuple(TWINS))
    else:
        twins = (args.twin or (saved_twins[0] if len(saved_twins) == 1 else DEFAULT_TWIN),)
    return cfg, twins


def _describe(cfg: TrainConfig) -> str:
    batch = "full batch" if cfg.batch_size is None else f"batch {cfg.batch_size}"
    return (f"{cfg.activation}, hidden {list(cfg.hidden)}, {cfg.init} init, {batch}, "
            f"lr {cfg.lr:g} ({cfg.schedule}, k={cfg.decay:g}), {cfg.epochs} epochs, "
            f"seed {cfg.seed}, {cfg.dtype}")


def _epoch_line(record: dict[str, dict[str, Any]], epochs: int) -> str:
    """One line per epoch: each twin's test accuracy/loss and step time."""
    first = next(iter(record.values()))
    parts = [f"epoch {first['epoch']:>3}/{epochs}  lr {first['lr']:.4g}"]
    for twin, m in record.items():
        parts.append(f"{twin}: train {100 * m['train_acc']:.2f}%  test {100 * m['test_acc']:.2f}% "
                     f"(loss {m['test_loss']:.4f})  {m['seconds']:.1f}s")
    if "max_param_diff" in first:
        parts.append(f"max param diff {first['max_param_diff']:.2e}")
    return "  |  ".join(parts)
