"""What one finished run left behind, and one curve's runs across seeds."""

from dataclasses import dataclass, field

import numpy as np

OK = "ok"
DIVERGED = "diverged"


@dataclass
class RunOutcome:
    """The result of training one configuration with every twin.

    Attributes:
        status: ``"ok"``, or ``"diverged"`` when training produced a NaN/inf loss
            (a deterministic outcome of the configuration, so it is cached too).
        metrics: dict twin -> list of per-epoch dicts (epoch, train_loss,
            train_acc, test_loss, test_acc, seconds, lr, max_param_diff...).
        params: dict twin -> list of (W (n_in, n_out), b (n_out,)) arrays;
            empty when the run diverged.
        message: why it diverged ("" when ok).
        wall_seconds: wall-clock time the run took (0.0 when unknown).
        code: fingerprint of the code that trained it (cache.code_fingerprint;
            "" until the run is stored).
    """

    status: str
    metrics: dict
    params: dict = field(default_factory=dict)
    message: str = ""
    wall_seconds: float = 0.0
    code: str = ""

    @property
    def ok(self):
        return self.status == OK


@dataclass
class Series:
    """One variant of one figure (one legend entry), with a run per seed.

    Attributes:
        label: legend label, e.g. ``"lr 0.1"``.
        settings: the variant's config overrides, e.g. ``{"lr": 0.1}``.
        outcomes: one RunOutcome per seed, in seed order.
    """

    label: str
    settings: dict
    outcomes: list

    def twins(self):
        """Twin names present in every run that did not diverge (in run order)."""
        names = None
        for outcome in self.outcomes:
            if outcome.ok:
                present = list(outcome.metrics)
                names = present if names is None else [n for n in names if n in present]
        return names or []

    def values(self, twin, key):
        """Per-epoch values of metric ``key`` for ``twin``.

        Returns:
            float array (n_seeds, n_epochs); a diverged run's row is NaN, and
            runs of unequal length are cut to the shortest.
        """
        rows = []
        for outcome in self.outcomes:
            epochs = outcome.metrics.get(twin, []) if outcome.ok else []
            rows.append([float(e.get(key, np.nan)) for e in epochs])
        length = min((len(r) for r in rows if r), default=0)
        if length == 0:
            return np.full((len(rows), 0), np.nan)
        return np.array([r[:length] if r else [np.nan] * length for r in rows])

    def mean_std(self, twin, key):
        """(mean (n_epochs,), std (n_epochs,)) of ``key`` across seeds."""
        v = self.values(twin, key)
        if v.shape[1] == 0:
            return np.zeros(0), np.zeros(0)
        # A diverged seed is NaN everywhere; say so instead of averaging over it.
        if np.isnan(v).all(axis=1).any():
            return np.full(v.shape[1], np.nan), np.full(v.shape[1], np.nan)
        return v.mean(axis=0), v.std(axis=0)

    def final(self, twin, key="test_acc"):
        """Mean across seeds of the last epoch's ``key`` (NaN if any seed diverged)."""
        mean, _ = self.mean_std(twin, key)
        return float(mean[-1]) if len(mean) else float("nan")

    def epoch_mean(self, twin, key="seconds"):
        """Mean over epochs and seeds of ``key`` (e.g. seconds per epoch)."""
        mean, _ = self.mean_std(twin, key)
        return float(np.mean(mean)) if len(mean) else float("nan")

    @property
    def diverged(self):
        """True when any seed's run diverged."""
        return any(not o.ok for o in self.outcomes)
