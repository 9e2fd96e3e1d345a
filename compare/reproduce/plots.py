"""The figures: one PNG per paper figure, its data (JSON and CSV) beside it.

Curves figures draw each twin in its own panel, side by side, and, with two
twins or more, one more panel with the largest difference between any two of
them (max minus min over the twins, in percentage points); with several seeds
every curve is the mean with a band of one standard deviation.
"""

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never a window
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure as MplFigure  # noqa: E402
from numpy.typing import ArrayLike, NDArray  # noqa: E402

from compare.atomic import atomic_path, write_json, write_text  # noqa: E402
from compare.reproduce.figures import Figure  # noqa: E402
from compare.reproduce.results import Series, spread  # noqa: E402

METRIC_NAMES = {"train_acc": "train", "test_acc": "test"}
LINESTYLES = {"test_acc": "-", "train_acc": "--"}
# Figure 6 crosses activations with initialisations: colour one, dash the other.
ACTIVATION_COLORS = {"sigmoid": "tab:blue", "tanh": "tab:orange", "relu": "tab:green"}
INIT_LINESTYLES = {"normal": "-", "xavier": "--", "he": ":"}
DPI = 100
MARKERS = "oxs^Dv*+"  # one per twin on figure 5, cycled
GAP_TITLE = "largest difference between twins"


def _nums(values: ArrayLike) -> list[float | None]:
    """A float array as a JSON list, NaN as null."""
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(values, float)]


def save_png(fig: MplFigure, path: Path) -> None:
    """Write a matplotlib figure to ``path`` atomically and close it."""
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Write rows (lists) under ``header`` as CSV, atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def _style(index: int, series: Series, key: str, label: str) -> dict[str, Any]:
    """Colour and line style of one curve."""
    settings = series.settings
    if "init" in settings and "activation" in settings:
        return {"color": ACTIVATION_COLORS.get(settings["activation"]),
                "ls": INIT_LINESTYLES.get(settings["init"], "-"), "label": label}
    # "C0".."C9": matplotlib's default colour cycle.
    return {"color": f"C{index % 10}", "ls": LINESTYLES[key], "label": label}


def _band(ax: Axes, x: NDArray[np.integer], mean: NDArray[np.floating],
          std: NDArray[np.floating], **style: Any) -> None:
    # Markers too: with a handful of epochs a bare line is hard to see.
    line, = ax.plot(x, mean, marker="." if len(x) <= 40 else None, **style)
    if np.any(std > 0):
        ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2, lw=0)


def draw_curves(figure: Figure, series: list[Series], twins: Sequence[str],
                folder: Path) -> Path:
    """Figure 2, 3, 4 or 6: accuracy per epoch, per twin, plus their largest difference.

    Args:
        figure: the figure (its ``metrics`` are the curves per series).
        series: one Series per variant.
        twins: twin names, one panel each; with two or more, a last panel shows
            the largest difference between any two of them.
        folder: where fig<N>.png, .json and .csv go.
    Returns:
        Path of the PNG.
    """
    twins = list(twins)
    gap = len(twins) > 1
    n_panels = len(twins) + gap
    fig, grid = plt.subplots(1, n_panels, figsize=(5.2 * n_panels, 4.2), squeeze=False)
    axes = grid[0]
    data, rows = [], []
    for i, s in enumerate(series):
        entry: dict[str, Any] = {"label": s.label, "settings": _jsonable(s.settings),
                                 "seeds": len(s.outcomes), "diverged": s.diverged,
                                 "twins": {}, "largest_difference": {}}
        for key in figure.metrics:
            name = f"{s.label} {METRIC_NAMES[key]}" if len(figure.metrics) > 1 else s.label
            style = _style(i, s, key, name)
            for ax, twin in zip(axes, twins):
                mean, std = s.mean_std(twin, key)
                epochs = np.arange(1, len(mean) + 1)
                _band(ax, epochs, 100 * mean, 100 * std, **style)
                entry["twins"].setdefault(twin, {})[key] = {"mean": _nums(mean), "std": _nums(std)}
                rows += [[figure.number, s.label, twin, key, e, m, d, len(s.outcomes)]
                         for e, m, d in zip(epochs, _nums(mean), _nums(std))]
            if gap:
                mean, std = s.gap_mean_std(twins, key)
                epochs = np.arange(1, len(mean) + 1)
                _band(axes[-1], epochs, 100 * mean, 100 * std, **style)
                entry["largest_difference"][key] = {"mean": _nums(mean), "std": _nums(std)}
                rows += [[figure.number, s.label, "largest difference", key, e, m, d,
                          len(s.outcomes)] for e, m, d in zip(epochs, _nums(mean), _nums(std))]
        data.append(entry)
    for ax in axes:
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    for ax, twin in zip(axes, twins):
        ax.set(title=f"{twin} twin", xlabel="epoch", ylabel="accuracy (%)")
    if gap:
        axes[-1].set(title=GAP_TITLE, xlabel="epoch",
                     ylabel="accuracy, max - min (points)")
        axes[-1].axhline(0, color="grey", lw=0.5)
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"Figure {figure.number}: {figure.title}")
    return _write(fig, folder, figure, {"metrics": list(figure.metrics), "series": data},
                  ["figure", "label", "twin", "metric", "epoch", "mean", "std", "seeds"], rows)


def draw_hidden(figure: Figure, series: list[Series], twins: Sequence[str],
                folder: Path) -> Path:
    """Figure 5: final test accuracy and seconds per epoch against hidden units.

    Every twin is overlaid; with two twins or more a third panel shows the
    largest difference of final test accuracy between any two of them.
    """
    twins = list(twins)
    gap = len(twins) > 1
    widths = [s.settings["hidden"][0] for s in series]
    fig, axes = plt.subplots(1, 2 + gap, figsize=(5 * (2 + gap), 4.2))
    data: dict[str, Any] = {"hidden": widths, "twins": {}}
    rows = []
    for index, twin in enumerate(twins):
        marker = MARKERS[index % len(MARKERS)]
        acc = [_final_stats(s, twin, "test_acc") for s in series]
        sec = [_final_stats(s, twin, "seconds", over_epochs=True) for s in series]
        axes[0].errorbar(widths, [100 * a for a, _ in acc], [100 * d for _, d in acc],
                         marker=marker, capsize=3, label=twin)
        axes[1].errorbar(widths, [a for a, _ in sec], [d for _, d in sec],
                         marker=marker, capsize=3, label=twin)
        data["twins"][twin] = {"final_test_acc": _nums([a for a, _ in acc]),
                               "final_test_acc_std": _nums([d for _, d in acc]),
                               "seconds_per_epoch": _nums([a for a, _ in sec]),
                               "seconds_per_epoch_std": _nums([d for _, d in sec])}
        rows += [[figure.number, h, twin, a[0], a[1], t[0], t[1], len(s.outcomes)]
                 for h, a, t, s in zip(widths, acc, sec, series)]
    if gap:
        finals = np.array([[s.final(twin) for s in series] for twin in twins])
        diff = 100 * spread(finals)
        axes[2].plot(widths, diff, marker="o")
        axes[2].axhline(0, color="grey", lw=0.5)
        axes[2].set(title=GAP_TITLE, ylabel="final test accuracy, max - min (points)")
        data["largest_difference_final_test_acc_points"] = _nums(diff)
    axes[0].set(title="final test accuracy", ylabel="accuracy (%)")
    axes[1].set(title="training time per epoch (each twin)", ylabel="seconds per epoch")
    for ax in axes:
        ax.set(xscale="log", xlabel="hidden units")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(f"Figure {figure.number}: {figure.title}")
    return _write(fig, folder, figure, data,
                  ["figure", "hidden", "twin", "final_test_acc", "final_test_acc_std",
                   "seconds_per_epoch", "seconds_per_epoch_std", "seeds"], rows)


def _final_stats(series: Series, twin: str, key: str,
                 over_epochs: bool = False) -> tuple[float, float]:
    """(mean, std) across seeds of the last epoch's ``key`` (or its mean over epochs)."""
    v = series.values(twin, key)
    if v.shape[1] == 0:
        return float("nan"), float("nan")
    per_seed = v.mean(axis=1) if over_epochs else v[:, -1]
    return float(np.mean(per_seed)), float(np.std(per_seed))


def draw_confusion(figure: Figure, matrices: dict[str, NDArray[np.int64]],
                   pairs: dict[str, list[tuple[int, int, int]]], folder: Path) -> Path:
    """Figure 7: one confusion matrix per twin (rows true, columns predicted).

    Args:
        figure: figure 7.
        matrices: twin -> int array (n_classes, n_classes).
        pairs: twin -> confused_pairs() list, most confused first.
        folder: where fig7.png, .json and .csv go.
    Returns:
        Path of the PNG.
    """
    twins = list(matrices)
    fig, axes = plt.subplots(1, len(twins), figsize=(6 * len(twins), 5.4), squeeze=False)
    rows = []
    for ax, twin in zip(axes[0], twins):
        m = np.asarray(matrices[twin])
        # Only the errors are coloured: the diagonal would swamp the scale.
        errors = m * (1 - np.eye(*m.shape, dtype=m.dtype))
        ax.imshow(errors, cmap="Reds")
        for (i, j), count in np.ndenumerate(m):
            ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                    fontweight="bold" if i == j else "normal",
                    color="white" if errors[i, j] > 0.6 * errors.max() else "black")
        top = ", ".join(f"{a}/{b}" for a, b, _ in pairs[twin][:3])
        ax.set(title=f"{twin} twin (most confused: {top})",
               xlabel="predicted (errors coloured)", ylabel="true",
               xticks=range(m.shape[1]), yticks=range(m.shape[0]))
        rows += [[twin, i, *row] for i, row in enumerate(m.tolist())]
    fig.suptitle(f"Figure {figure.number}: {figure.title}")
    data = {"twins": {t: {"matrix": np.asarray(matrices[t]).tolist(),
                          "confused_pairs": [list(p) for p in pairs[t]]} for t in twins}}
    n = np.asarray(matrices[twins[0]]).shape[1]
    return _write(fig, folder, figure, data,
                  ["twin", "true", *[f"pred_{j}" for j in range(n)]], rows)


def draw_misclassified(images: NDArray[np.floating], y_true: NDArray[np.integer],
                       y_pred: NDArray[np.integer], indices: NDArray[np.integer], twin: str,
                       folder: Path, columns: int = 8) -> Path:
    """A grid of misclassified test images titled 'true -> predicted'.

    Args:
        images: (N, 784) test inputs in [0, 1].
        y_true, y_pred: (N,) int labels and predictions.
        indices: which rows to show (from confusion.misclassified).
        twin: whose predictions these are.
        folder: where fig7-misclassified.png, .json and .csv go.
        columns: images per row of the grid.
    Returns:
        Path of the PNG.
    """
    n_rows = max(1, -(-len(indices) // columns))
    fig, axes = plt.subplots(n_rows, columns, figsize=(1.3 * columns, 1.5 * n_rows),
                             squeeze=False)
    side = int(round(np.sqrt(images.shape[1])))
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, indices):
        ax.imshow(images[i].reshape(side, side), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"{y_true[i]} -> {y_pred[i]}", fontsize=8)
    fig.suptitle(f"Misclassified test images ({twin} twin): true -> predicted", fontsize=10)
    stem = Path(folder) / "fig7-misclassified"
    rows = [[int(i), int(y_true[i]), int(y_pred[i])] for i in indices]
    write_csv(stem.with_suffix(".csv"), ["test_index", "true", "predicted"], rows)
    write_json(stem.with_suffix(".json"), {"twin": twin, "images": [
        {"test_index": i, "true": t, "predicted": p} for i, t, p in rows]})
    save_png(fig, stem.with_suffix(".png"))
    return stem.with_suffix(".png")


def _jsonable(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}


def _write(fig: MplFigure, folder: Path, figure: Figure, data: dict[str, Any],
           header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    stem = Path(folder) / f"fig{figure.number}"
    write_json(stem.with_suffix(".json"), {"figure": figure.number, "title": figure.title,
                                           "epochs": figure.epochs, **data})
    write_csv(stem.with_suffix(".csv"), header, rows)
    save_png(fig, stem.with_suffix(".png"))
    return stem.with_suffix(".png")
