"""``twinprop train``, ``twinprop compare`` and ``twinprop plot``.

``train`` trains one twin; ``compare`` trains several in lockstep (every
registered twin by default) and draws their curves side by side; ``plot`` redraws a run's curves.png from its
metrics.json. Every option left out takes TrainConfig's default, which
reproduces the paper's best setting; with ``--resume`` it takes the value in
the run's config.json instead.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from compare.cli.app import positive_float, positive_int
from compare.common.dtypes import DTYPES
from compare.common.errors import ConfigError
from compare.train.config import TrainConfig
from compare.train.curves import plot_run
from compare.train.run_files import prepare_out_dir, read_config
from compare.train.schedules import SCHEDULES
from compare.train.trainer import TrainingInterrupted, check_batch_size, run_training
from compare.twins import DESCRIPTIONS, TWINS, check_twin_names

DEFAULT_TWIN = "buffered"

# Options that map one-to-one onto TrainConfig fields (argparse dest == field).
CONFIG_OPTIONS = ("activation", "hidden", "init", "batch_size", "lr", "schedule", "decay",
                  "step_every", "epochs", "seed", "dtype", "dataset", "train_subset",
                  "test_subset")


def add_parser(subparsers):
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


def _add_training_options(parser, command):
    d = TrainConfig  # class attributes hold the field defaults
    add = parser.add_argument
    # default=None everywhere: None means "not given", so --resume can tell
    # the options a user typed from the ones left out.
    add("--activation", default=None,
        help=f"hidden activation: {', '.join(_names('activations'))} (default: {d.activation})")
    add("--hidden", type=positive_int, action="append", default=None, metavar="N",
        help=f"width of a hidden layer; repeat for more layers, e.g. --hidden 100 --hidden 50 "
             f"(default: {' '.join(map(str, d.hidden))})")
    add("--init", default=None,
        help=f"weight initialisation: {', '.join(_names('inits'))} (default: {d.init})")
    add("--batch-size", type=_batch_size, default=None, metavar="N|full",
        help=f"examples per SGD step, 1 for plain SGD, 'full' for the whole training set "
             f"(default: {d.batch_size})")
    add("--lr", type=positive_float, default=None,
        help=f"initial learning rate lr0 (default: {d.lr})")
    add("--schedule", choices=tuple(SCHEDULES), default=None,
        help=f"learning-rate schedule; decay is lr0 / (1 + k * epoch) (default: {d.schedule})")
    add("--decay", type=_non_negative_float, default=None, metavar="K",
        help=f"the schedule's k (default: {d.decay})")
    add("--step-every", type=positive_int, default=None, metavar="N",
        help=f"epochs between steps of the step schedule (default: {d.step_every})")
    add("--epochs", type=positive_int, default=None, help=f"default: {d.epochs}")
    add("--seed", type=_non_negative_int, default=None,
        help=f"seed of the initialisation and batch order (default: {d.seed})")
    add("--dtype", choices=DTYPES, default=None, help=f"default: {d.dtype}")
    add("--dataset", default=None,
        help=f"data set: {', '.join(_names('datasets'))} (default: {d.dataset})")
    add("--data-dir", default=None, help="folder with the data set's files "
                                         "(default: the twinprop cache)")
    add("--train-subset", type=positive_int, default=None, metavar="N",
        help="train on the first N training examples only (default: all)")
    add("--test-subset", type=positive_int, default=None, metavar="N",
        help="evaluate on the first N test examples only (default: all)")
    add("--out", default=None, metavar="DIR",
        help=f"run folder (default: runs/{command}-<timestamp>)")
    add("--force", action="store_true", help="overwrite the run files in an existing --out")
    add("--resume", action="store_true",
        help="continue the interrupted run in --out (options default to its config.json)")
    add("--quiet", action="store_true", help="no progress bar and no per-epoch lines")


def _names(kind):
    from compare.train import config as train_config
    return getattr(train_config, f"known_{kind}")()


def _twin_list(text):
    """argparse type: comma-separated names of registered twins."""
    try:
        return check_twin_names(text)
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _batch_size(text):
    return "full" if text == "full" else positive_int(text)


def _non_negative_float(text):
    """argparse type: a finite float >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number >= 0")
    return value


def _non_negative_int(text):
    """argparse type: a whole number >= 0."""
    return 0 if text.strip() == "0" else positive_int(text)


def run_train(args):
    """``twinprop train``: one twin."""
    return _run(args, "train")


def run_compare(args):
    """``twinprop compare``: both twins in lockstep."""
    return _run(args, "compare")


def run_plot(args):
    """``twinprop plot RUN_DIR``: redraw curves.png from metrics.json."""
    print(f"wrote {plot_run(args.run_dir, args.out)}")


def _run(args, command):
    out = Path(args.out) if args.out else Path("runs") / f"{command}-{time.strftime('%Y%m%d-%H%M%S')}"
    cfg, twins = _config_and_twins(args, command, out)
    from compare.data.load import load_dataset
    data = load_dataset(name=cfg.dataset, data_dir=args.data_dir, dtype=cfg.dtype,
                        seed=cfg.seed, quiet=args.quiet)
    # Everything that can be checked is checked before --out is touched:
    # --force removes the old run's files, which a rejected run must not cost.
    check_batch_size(cfg, len(data.y_train[:cfg.train_subset]))
    out = prepare_out_dir(out, force=args.force, resume=args.resume)
    if not args.quiet:
        print(f"{command}: {' and '.join(twins)} on {data.name} ({data.source}); "
              f"{_describe(cfg)}; writing {out}")
    on_epoch = None if args.quiet else (lambda record: print(_epoch_line(record, cfg.epochs),
                                                              flush=True))
    try:
        result = run_training(cfg, twins, data, out, progress=not args.quiet,
                              resume=args.resume, on_epoch=on_epoch)
    except TrainingInterrupted as stop:
        n = stop.completed_epochs
        saved = (f"after {n} completed epoch{'s' if n != 1 else ''}, saved in {out}" if n
                 else "before the first epoch ended")
        print(f"twinprop: interrupted {saved}; continue with: "
              f"twinprop {command} --resume --out {out}", file=sys.stderr)
        return 130
    curves = plot_run(out)
    for twin, epochs in result.metrics.items():
        last = epochs[-1]
        print(f"{twin}: {100 * last['test_acc']:.2f}% test accuracy after {last['epoch']} epochs")
    print(f"wrote {out}/config.json, metrics.json, checkpoint.npz and {curves}")
    for line in collapse_warnings(result.metrics, cfg, data.n_classes):
        print(f"twinprop: warning: {line}", file=sys.stderr)
    return 0


def collapse_warnings(metrics, cfg, n_classes):
    """Lines warning of twins whose training loss ended above chance level.

    The loss is computed stably, so a far too large learning rate need not
    give NaN: it can saturate or kill every hidden unit and leave a finite
    but useless network (e.g. 11% accuracy, loss in the thousands). A network
    that predicts uniformly has loss log(n_classes); ending above that means
    training made things worse than guessing.

    Args:
        metrics: dict twin -> list of per-epoch dicts (train_loss, ...).
        cfg: the run's TrainConfig.
        n_classes: number of classes.
    Returns:
        list of str, one per twin that ended above chance.
    """
    chance = float(np.log(n_classes))
    return [f"the {twin} twin's training loss ended at {epochs[-1]['train_loss']:.4g}, "
            f"above chance level (log {n_classes} = {chance:.2f}); the learning rate "
            f"{cfg.lr:g} is probably too high: try --lr {cfg.lr / 10:g}"
            for twin, epochs in metrics.items() if epochs[-1]["train_loss"] > chance]


def _config_and_twins(args, command, out):
    """Build the TrainConfig and twin list from the options (and config.json on --resume)."""
    given = {name: getattr(args, name) for name in CONFIG_OPTIONS
             if getattr(args, name) is not None}
    if given.get("batch_size") == "full":
        given["batch_size"] = None
    if args.resume:
        if args.out is None:
            raise ConfigError("--resume needs the run folder; add --out runs/NAME")
        saved = read_config(out)
        base, saved_twins = saved["config"], saved["twins"]
    else:
        base, saved_twins = {}, None
    cfg = TrainConfig.from_dict({**base, **given})
    if command == "compare":
        twins = args.twins or (tuple(saved_twins) if saved_twins else tuple(TWINS))
    else:
        twins = (args.twin or (saved_twins[0] if saved_twins and len(saved_twins) == 1
                               else DEFAULT_TWIN),)
    return cfg, twins


def _describe(cfg):
    batch = "full batch" if cfg.batch_size is None else f"batch {cfg.batch_size}"
    return (f"{cfg.activation}, hidden {list(cfg.hidden)}, {cfg.init} init, {batch}, "
            f"lr {cfg.lr:g} ({cfg.schedule}, k={cfg.decay:g}), {cfg.epochs} epochs, "
            f"seed {cfg.seed}, {cfg.dtype}")


def _epoch_line(record, epochs):
    """One line per epoch: each twin's test accuracy/loss and step time."""
    first = next(iter(record.values()))
    parts = [f"epoch {first['epoch']:>3}/{epochs}  lr {first['lr']:.4g}"]
    for twin, m in record.items():
        parts.append(f"{twin}: train {100 * m['train_acc']:.2f}%  test {100 * m['test_acc']:.2f}% "
                     f"(loss {m['test_loss']:.4f})  {m['seconds']:.1f}s")
    if "max_param_diff" in first:
        parts.append(f"max param diff {first['max_param_diff']:.2e}")
    return "  |  ".join(parts)
