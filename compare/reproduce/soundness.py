"""Whether a cached run holds what its configuration implies.

A run folder can be damaged after it was written (a copy cut short, a disk
filling up, a hand edit, a file from another run): its metrics.json must list
every twin's epochs with finite numbers, and every twin's parameters must have
the layer shapes and dtype of the configuration. What fails is a DamagedRun,
which the runner answers by training the run again.
"""

import math
from collections.abc import Sequence
from typing import Any

from compare.reproduce.results import OK, STATUSES
from compare.train import run_state
from compare.train.config import TrainConfig, catalog_sizes
from compare.twins import Params

# The per-epoch numbers the reproduction reads from every twin's metrics.
EPOCH_KEYS = ("epoch", "train_acc", "test_acc", "seconds")
ACCURACY_KEYS = ("train_acc", "test_acc")
# Top-level fields of metrics.json and their JSON types.
FIELDS: dict[str, type | tuple[type, ...]] = {
    "status": str, "message": str, "wall_seconds": (int, float), "code": str, "metrics": dict}


class DamagedRun(Exception):
    """A cached run that cannot be used as it is; the message says why."""


def check_params(params: Params, config: TrainConfig, twin: str, where: str) -> None:
    """Raise DamagedRun unless ``params`` are finite (W, b) pairs shaped for ``config``.

    The training's own check of a checkpoint's layers (shapes, dtype, finite
    values), with its fault told as the reason the cached run is damaged.
    """
    try:
        run_state.check_params({twin: params}, config, catalog_sizes(config.dataset), where)
    except run_state.DamagedParams as err:
        raise DamagedRun(f"{where} {err.why}") from None


def check_metrics_file(done: Any, config: TrainConfig, twins: Sequence[str]) -> None:
    """Raise DamagedRun unless ``done`` (metrics.json's content) is a whole run.

    A finished run has ``config.epochs`` epochs for every twin of ``twins``,
    numbered 1, 2, ..., each with finite EPOCH_KEYS and accuracies in [0, 1];
    a diverged one has a message and no more.
    """
    if not isinstance(done, dict):
        raise DamagedRun("its metrics.json is not a JSON object")
    for name, kind in FIELDS.items():
        if not isinstance(done.get(name), kind) or isinstance(done.get(name), bool):
            raise DamagedRun(f"its metrics.json has no valid {name!r}")
    if done["status"] not in STATUSES:
        raise DamagedRun(f"its metrics.json has the unknown status {done['status']!r}")
    if done["status"] != OK:
        return
    if sorted(done["metrics"]) != sorted(twins):
        raise DamagedRun(f"its metrics.json holds the twins {sorted(done['metrics'])}, "
                         f"not {sorted(twins)}")
    for twin in twins:
        _check_epochs(done["metrics"][twin], config.epochs, twin)


def _check_epochs(epochs: Any, expected: int, twin: str) -> None:
    """Raise DamagedRun unless ``epochs`` are ``expected`` sound per-epoch dicts."""
    if not isinstance(epochs, list) or len(epochs) != expected:
        count = len(epochs) if isinstance(epochs, list) else "no"
        raise DamagedRun(f"its metrics.json has {count} epochs of {twin}, not {expected}")
    for number, epoch in enumerate(epochs, 1):
        if not isinstance(epoch, dict) or epoch.get("epoch") != number:
            raise DamagedRun(f"its metrics.json has no epoch {number} for {twin}")
        for key in EPOCH_KEYS:
            value = epoch.get(key)
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not math.isfinite(value)):
                raise DamagedRun(f"its metrics.json has no finite {key} for {twin}, "
                                 f"epoch {number}")
        if not all(0.0 <= epoch[key] <= 1.0 for key in ACCURACY_KEYS):
            raise DamagedRun(f"its metrics.json has an accuracy outside [0, 1] for {twin}, "
                             f"epoch {number}")
