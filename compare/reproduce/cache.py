"""Finished runs on disk, one folder per configuration.

``OUT/runs/<key>/`` holds ``config.json`` (what was trained), one
``params-<twin>.npz`` per twin (the final weights; plain arrays, no pickle)
and ``metrics.json`` (the per-epoch measurements). Every file is written
atomically and metrics.json last, so a folder with a metrics.json is a whole
run: an interrupted reproduce finds exactly the runs that finished. A folder
whose files do not hold what its configuration implies (see
``compare.reproduce.soundness``) is damaged: it is never used, only retrained.
"""

import functools
import hashlib
import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from compare.atomic import UnreadableArchive, read_npz, write_json, write_npz
from compare.jsonable import to_jsonable
from compare.reproduce.results import OK, RunOutcome
from compare.reproduce.soundness import DamagedRun, check_metrics_file, check_params
from compare.train.config import TrainConfig
from compare.twins import Params

# Bump when the meaning of a cached run changes (e.g. the metrics it holds),
# so old folders are not mistaken for new ones.
CACHE_VERSION = 1
CONFIG_NAME = "config.json"
METRICS_NAME = "metrics.json"
# The code a run's numbers depend on. Its fingerprint is stored with each run
# (not in the key: editing a comment should not throw away an hour of
# training), and the report flags runs made by other code.
CODE_MODULES = ("manual", "autodiff", "compare.twins", "compare.train.trainer",
                "compare.train.sgd", "compare.train.config", "compare.common.init",
                "compare.data.batches", "compare.train.schedules", "compare.train.evaluate")


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """16 hex digits hashing the source files of CODE_MODULES (packages: every .py)."""
    digest = hashlib.sha256()
    for name in CODE_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ImportError(f"cannot find the module {name} to fingerprint")
        origin = Path(spec.origin)
        files = sorted(origin.parent.glob("*.py")) if spec.submodule_search_locations else [origin]
        for path in files:
            digest.update(f"{name}/{path.name}".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def key_document(config: TrainConfig, twins: Sequence[str]) -> dict[str, Any]:
    """The JSON-ready dict whose hash names a run: config, twins, cache version."""
    return {"cache_version": CACHE_VERSION, "twins": list(twins),
            "config": to_jsonable(config.to_dict())}


def run_key(config: TrainConfig, twins: Sequence[str]) -> str:
    """A stable 16-hex-digit name for training ``config`` with ``twins``.

    The hash covers TrainConfig.to_dict() (sorted keys, so field order does not
    matter) and the twin names in order.
    """
    text = json.dumps(key_document(config, twins), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def params_name(twin: str) -> str:
    """File name of ``twin``'s parameters in a run folder."""
    return f"params-{twin}.npz"


def save_params(path: Path, params: Params) -> None:
    """Write params [(W, b), ...] as W0, b0, W1, b1, ... in one .npz, atomically."""
    write_npz(path, {f"{kind}{i}": np.asarray(array) for i, pair in enumerate(params)
                     for kind, array in zip("Wb", pair)})


def load_params(path: Path) -> Params:
    """Read a params .npz written by save_params: [(W, b), ...].

    Raises:
        DamagedRun: the file is missing, unreadable, or not W0, b0, W1, b1, ...
    """
    try:
        data = read_npz(path)
    except (OSError, UnreadableArchive) as err:
        raise DamagedRun(f"{path.name} cannot be read ({err})") from None
    names = set(data)
    n_layers = len(names) // 2
    expected = {f"{kind}{i}" for i in range(n_layers) for kind in "Wb"}
    if names != expected or not n_layers:
        raise DamagedRun(f"{path.name} holds {sorted(names)}, not W0, b0, W1, b1, ...")
    return [(data[f"W{i}"], data[f"b{i}"]) for i in range(n_layers)]


class RunCache:
    """The finished runs under ``OUT/runs``."""

    def __init__(self, out_dir: Path) -> None:
        self.root = Path(out_dir) / "runs"

    def folder(self, key: str) -> Path:
        """The folder of the run called ``key``."""
        return self.root / key

    def load(self, config: TrainConfig, twins: Sequence[str]) -> RunOutcome | None:
        """The cached RunOutcome, or None when the run never finished.

        Raises:
            DamagedRun: the run finished (its metrics.json exists) but a file
                is truncated, belongs to another configuration, or does not
                hold what ``config`` and ``twins`` imply.
        """
        folder = self.folder(run_key(config, twins))
        metrics_path = folder / METRICS_NAME
        if not metrics_path.is_file():
            return None
        try:
            stored = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))
            done = json.loads(metrics_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise DamagedRun(f"cannot read its JSON ({err})") from None
        if stored != key_document(config, twins):
            raise DamagedRun(f"its {CONFIG_NAME} is not the configuration its name stands for")
        check_metrics_file(done, config, twins)
        params = {}
        if done["status"] == OK:
            for twin in twins:
                params[twin] = load_params(folder / params_name(twin))
                check_params(params[twin], config, twin, params_name(twin))
        return RunOutcome(status=done["status"], metrics=done["metrics"], params=params,
                          message=done["message"], wall_seconds=float(done["wall_seconds"]),
                          code=done["code"])

    def store(self, config: TrainConfig, twins: Sequence[str], outcome: RunOutcome) -> Path:
        """Write ``outcome`` for ``config`` (stamping it with the code fingerprint).

        Returns the run's folder.
        """
        outcome.code = code_fingerprint()
        folder = self.folder(run_key(config, twins))
        # A retrained (damaged) run is unfinished until its new metrics.json is
        # written: never the old metrics beside new parameters.
        (folder / METRICS_NAME).unlink(missing_ok=True)
        for twin, params in outcome.params.items():
            save_params(folder / params_name(twin), params)
        write_json(folder / CONFIG_NAME, key_document(config, twins))
        # Last: its presence is what marks the run as finished.
        write_json(folder / METRICS_NAME, {
            "status": outcome.status, "message": outcome.message,
            "wall_seconds": outcome.wall_seconds, "code": outcome.code,
            "metrics": to_jsonable(outcome.metrics)})
        return folder
