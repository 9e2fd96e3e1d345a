"""curves.png: a run's learning curves, drawn from metrics.json alone.

One column per twin (accuracy on top, loss below, train and test in each),
plus, when two twins ran in lockstep, a column with the largest absolute
difference between their parameters per epoch on a log scale. Because only
metrics.json is read, a figure can be redrawn (``twinprop plot RUN_DIR``)
without retraining.
"""

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, LogLocator, MaxNLocator

from compare.atomic import atomic_path
from compare.common.errors import ConfigError
from compare.train.run_files import CURVES_NAME, Metrics, read_metrics


def plot_run(run_dir: "str | Path", out_path: "str | Path | None" = None) -> Path:
    """Draw ``run_dir``/metrics.json to ``out_path`` (default ``run_dir``/curves.png).

    Returns the Path written.
    """
    run_dir = Path(run_dir)
    out_path = Path(out_path) if out_path is not None else run_dir / CURVES_NAME
    plot_curves(read_metrics(run_dir), out_path, title=run_dir.name)
    return out_path


def plot_curves(metrics: Metrics, out_path: "str | Path", title: str | None = None) -> None:
    """Draw ``metrics`` (twin -> list of per-epoch dicts) to the PNG ``out_path``."""
    twins = [name for name, epochs in metrics.items() if epochs]
    if not twins:
        raise ConfigError("metrics.json holds no completed epoch yet; train at least one "
                          "epoch, then plot")
    diff_twin = next((t for t in twins if "max_param_diff" in metrics[t][0]), None)
    n_cols = len(twins) + (diff_twin is not None)
    fig = Figure(figsize=(4.6 * n_cols, 7.2))
    axes = fig.subplots(2, n_cols, squeeze=False)
    for col, twin in enumerate(twins):
        epochs = [e["epoch"] for e in metrics[twin]]
        acc_ax, loss_ax = axes[0, col], axes[1, col]
        for split, style in (("train", "-"), ("test", "--")):
            acc_ax.plot(epochs, [100 * e[f"{split}_acc"] for e in metrics[twin]], style,
                        marker=".", label=split)
            loss_ax.plot(epochs, [e[f"{split}_loss"] for e in metrics[twin]], style,
                         marker=".", label=split)
        last = metrics[twin][-1]
        acc_ax.set_title(f"{twin}: test {100 * last['test_acc']:.2f}% after {last['epoch']} epochs")
        acc_ax.set_ylabel("accuracy (%)")
        loss_ax.set_ylabel("cross-entropy loss")
        loss_ax.set_yscale("log")
        # Ticks at 1, 2, 5 x 10^n labelled as plain numbers (0.05, 0.1, 0.2).
        loss_ax.yaxis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))
        for axis_formatter in (loss_ax.yaxis.set_major_formatter,
                               loss_ax.yaxis.set_minor_formatter):
            axis_formatter(FormatStrFormatter("%g"))
        for ax in (acc_ax, loss_ax):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
            ax.legend()
    # Same accuracy and loss ranges for every twin, so columns compare by eye.
    for row in range(2):
        _share_y(axes[row, :len(twins)])
    if diff_twin is not None:
        _draw_diff(axes[0, -1], metrics[diff_twin], twins)
        axes[1, -1].axis("off")
        axes[1, -1].text(0.0, 0.9, _diff_summary(twins, metrics),
                         va="top", family="monospace", fontsize=9)
    if title:
        fig.suptitle(title)
    # Fixed margins: constrained layout would measure every label first and
    # cost more than the drawing itself.
    width = fig.get_figwidth()
    fig.subplots_adjust(left=0.8 / width, right=1 - 0.15 / width, bottom=0.07, top=0.91,
                        wspace=0.3, hspace=0.28)
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)


def _share_y(axes: Any) -> None:
    lows, highs = zip(*(ax.get_ylim() for ax in axes))
    for ax in axes:
        ax.set_ylim(min(lows), max(highs))


def _draw_diff(ax: Axes, epochs: list[dict[str, Any]], twins: list[str]) -> None:
    """max_param_diff per epoch, log scale; exact zeros are marked, not dropped silently."""
    x = np.array([e["epoch"] for e in epochs])
    diff = np.array([e["max_param_diff"] for e in epochs], dtype=float)
    positive = diff > 0
    if not positive.any():
        # log(0) does not exist: say it in words instead of drawing an empty log axis.
        ax.set_yticks([])
        ax.set_xlim(x.min() - 0.5, x.max() + 0.5)
        ax.text(0.5, 0.5, "parameters identical\nat every epoch\n(difference exactly 0)",
                transform=ax.transAxes, ha="center", va="center")
    else:
        ax.plot(x[positive], diff[positive], marker="o", color="tab:red")
        ax.set_yscale("log")
        zero = ~positive
        if zero.any():
            # Exact agreement has no log; mark those epochs on the bottom edge.
            ax.plot(x[zero], np.full(zero.sum(), ax.get_ylim()[0]), "v", color="tab:green",
                    label="exactly 0", clip_on=False)
            ax.legend()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("largest |parameter difference| between twins")
    ax.set_xlabel("epoch")
    # The trainer records the largest difference over every pair of twins.
    if len(twins) == 2:
        ax.set_ylabel(f"max |θ_{twins[0]} − θ_{twins[1]}|")
    else:
        ax.set_ylabel("max |θ_a − θ_b| over pairs of twins")
    ax.grid(alpha=0.3, which="both")


def _diff_summary(twins: list[str], metrics: Metrics) -> str:
    """The text panel: the worst difference, each twin's step time, the last epochs."""
    epochs = metrics[twins[0]]
    worst = max(epochs, key=lambda e: e["max_param_diff"])
    lines = [f"{' vs '.join(twins)} in lockstep", "",
             f"largest difference: {worst['max_param_diff']:.3e} (epoch {worst['epoch']})",
             "mean seconds of SGD steps per epoch:"]
    lines += [f"  {twin}: {sum(e['seconds'] for e in metrics[twin]) / len(metrics[twin]):.2f} s"
              for twin in twins]
    lines += ["", "max_param_diff by epoch:"]
    lines += [f"  epoch {e['epoch']:>3}: {e['max_param_diff']:.3e}" for e in epochs[-8:]]
    return "\n".join(lines)
