"""Whether a cached run holds what its configuration implies.

A run folder can be damaged after it was written (a copy cut short, a disk
filling up, a hand edit, a file from another run): its metrics.json must list
every twin's epochs with finite numbers, and every twin's parameters must have
the layer shapes and dtype of the configuration. What fails is a DamagedRun,
which the runner answers by training the run again.
"""

from collections.abc import Sequence
from typing import Any

from compare.reproduce.results import OK, STATUSES
from compare.train import run_state
from compare.train.config import TrainConfig, catalog_sizes
from compare.train.run_files import DamagedFile, check_metrics
from compare.twins import Params

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
    except DamagedFile as err:
        raise DamagedRun(f"{where} {err.why}") from None


def check_metrics_file(done: Any, config: TrainConfig, twins: Sequence[str]) -> None:
    """Raise DamagedRun unless ``done`` (metrics.json's content) is a whole run.

    A finished run holds, for exactly the twins of ``twins``, the records the
    trainer writes (run_files.check_metrics: epochs numbered 1, 2, ..., every
    field a finite number in its range), ``config.epochs`` of them; a diverged
    one has a message and no more.
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
    where = "its metrics.json"
    try:
        check_metrics(done["metrics"], where)
    except DamagedFile as err:
        raise DamagedRun(f"{where} {err.why}") from None
    for twin in twins:
        count = len(done["metrics"][twin])
        if count != config.epochs:
            raise DamagedRun(f"{where} has {count} epochs of {twin}, not {config.epochs}")
