"""What one finished run left behind, one curve's runs across seeds, and twin gaps."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from compare.twins import Params

OK = "ok"
DIVERGED = "diverged"
STATUSES = (OK, DIVERGED)

Epoch = dict[str, Any]
"""One epoch's measurements of one twin: epoch, train_acc, test_acc, seconds, ..."""


@dataclass
class RunOutcome:
    """The result of training one configuration with every twin.

    Attributes:
        status: ``"ok"``, or ``"diverged"`` when training produced a NaN/inf loss
            (a deterministic outcome of the configuration, so it is cached too).
        metrics: twin -> per-epoch dicts (epoch, train_loss, train_acc,
            test_loss, test_acc, seconds, lr, max_param_diff...).
        params: twin -> [(W (n_in, n_out), b (n_out,)), ...]; empty when the
            run diverged.
        message: why it diverged ("" when ok).
        wall_seconds: wall-clock time the run took (0.0 when unknown).
        code: fingerprint of the code that trained it (cache.code_fingerprint;
            "" until the run is stored).
    """

    status: str
    metrics: dict[str, list[Epoch]]
    params: dict[str, Params] = field(default_factory=dict)
    message: str = ""
    wall_seconds: float = 0.0
    code: str = ""

    @property
    def ok(self) -> bool:
        """True when the run finished without diverging."""
        return self.status == OK


def spread(values: NDArray[np.floating]) -> NDArray[np.floating]:
    """The largest difference between any two twins: max - min over the first axis.

    Args:
        values: (n_twins, ...) one row of measurements per twin.
    Returns:
        (...): NaN wherever a twin's value is NaN; zeros for a single twin.
    """
    values = np.asarray(values, dtype=float)
    if values.shape[0] == 0:
        return np.full(values.shape[1:], np.nan)
    # max and min carry a NaN through, so one twin's NaN makes the gap NaN.
    with np.errstate(invalid="ignore"):
        return values.max(axis=0) - values.min(axis=0)


def largest_epoch_gap(epochs_by_twin: Iterable[Sequence[Epoch]], key: str) -> float:
    """Largest difference of ``key`` between any two twins at any common epoch (NaN if none)."""
    rows = [[float(e.get(key, np.nan)) for e in epochs] for epochs in epochs_by_twin]
    n = min((len(r) for r in rows), default=0)
    if n == 0:
        return float("nan")
    gaps = spread(np.array([r[:n] for r in rows]))
    finite = gaps[np.isfinite(gaps)]
    return float(finite.max()) if finite.size else float("nan")


@dataclass
class Series:
    """One variant of one figure (one legend entry), with a run per seed.

    Attributes:
        label: legend label, e.g. ``"lr 0.1"``.
        settings: the variant's config overrides, e.g. ``{"lr": 0.1}``.
        outcomes: one RunOutcome per seed, in seed order.
    """

    label: str
    settings: dict[str, Any]
    outcomes: list[RunOutcome]

    def values(self, twin: str, key: str) -> NDArray[np.floating]:
        """Per-epoch values of metric ``key`` for ``twin``.

        Returns:
            (n_seeds, n_epochs) floats; a diverged run's row (or a run without
            ``twin``) is NaN, and runs of unequal length are cut to the shortest.
        """
        rows = []
        for outcome in self.outcomes:
            epochs = outcome.metrics.get(twin, []) if outcome.ok else []
            rows.append([float(e.get(key, np.nan)) for e in epochs])
        length = min((len(r) for r in rows if r), default=0)
        if length == 0:
            return np.full((len(rows), 0), np.nan)
        return np.array([r[:length] if r else [np.nan] * length for r in rows])

    def mean_std(self, twin: str, key: str) -> tuple[NDArray[np.floating], NDArray[np.floating]]:
        """(mean (n_epochs,), std (n_epochs,)) of ``key`` across seeds."""
        return _mean_std(self.values(twin, key))

    def gap_mean_std(self, twins: Sequence[str], key: str
                     ) -> tuple[NDArray[np.floating], NDArray[np.floating]]:
        """Per epoch, (mean (n_epochs,), std (n_epochs,)) across seeds of the largest
        difference of ``key`` between any two of ``twins``."""
        per_twin = [self.values(twin, key) for twin in twins]
        n = min(v.shape[1] for v in per_twin)
        return _mean_std(spread(np.stack([v[:, :n] for v in per_twin])))

    def final(self, twin: str, key: str = "test_acc") -> float:
        """Mean across seeds of the last epoch's ``key`` (NaN if any seed diverged)."""
        mean, _ = self.mean_std(twin, key)
        return float(mean[-1]) if len(mean) else float("nan")

    def epoch_mean(self, twin: str, key: str = "seconds") -> float:
        """Mean over epochs and seeds of ``key`` (e.g. seconds per epoch)."""
        mean, _ = self.mean_std(twin, key)
        return float(np.mean(mean)) if len(mean) else float("nan")

    @property
    def diverged(self) -> bool:
        """True when any seed's run diverged."""
        return any(not o.ok for o in self.outcomes)


def _mean_std(v: NDArray[np.floating]) -> tuple[NDArray[np.floating], NDArray[np.floating]]:
    """(mean, std) over the rows of ``v`` (n_seeds, n_epochs); all NaN if a row is."""
    if v.shape[1] == 0:
        return np.zeros(0), np.zeros(0)
    # A diverged seed is NaN everywhere; say so instead of averaging over it.
    if np.isnan(v).all(axis=1).any():
        return np.full(v.shape[1], np.nan), np.full(v.shape[1], np.nan)
    return v.mean(axis=0), v.std(axis=0)
