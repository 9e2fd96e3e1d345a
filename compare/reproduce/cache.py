"""Finished runs on disk, one folder per configuration.

``OUT/runs/<key>/`` holds ``config.json`` (what was trained), one
``params-<twin>.npz`` per twin (the final weights; plain arrays, no pickle)
and ``metrics.json`` (the per-epoch measurements). Every file is written
atomically and metrics.json last, so a folder with a metrics.json is a whole
run: an interrupted reproduce finds exactly the runs that finished.
"""

import functools
import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np

from compare.atomic import atomic_path, write_json
from compare.jsonable import to_jsonable
from compare.reproduce.results import OK, RunOutcome

# Bump when the meaning of a cached run changes (e.g. the metrics it holds),
# so old folders are not mistaken for new ones.
CACHE_VERSION = 1
CONFIG_NAME = "config.json"
METRICS_NAME = "metrics.json"
# The code a run's numbers depend on. Its fingerprint is stored with each run
# (not in the key: editing a comment should not throw away an hour of
# training), and the report flags runs made by other code.
CODE_MODULES = ("manual", "autodiff", "compare.train.trainer", "compare.train.config",
                "compare.common.init", "compare.data.batches", "compare.train.schedules", "compare.train.evaluate")


@functools.lru_cache(maxsize=1)
def code_fingerprint():
    """16 hex digits hashing the source files of CODE_MODULES (packages: every .py)."""
    digest = hashlib.sha256()
    for name in CODE_MODULES:
        spec = importlib.util.find_spec(name)
        origin = Path(spec.origin)
        files = sorted(origin.parent.glob("*.py")) if spec.submodule_search_locations else [origin]
        for path in files:
            digest.update(f"{name}/{path.name}".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def key_document(config, twins):
    """The JSON-ready dict whose hash names a run: config, twins, cache version."""
    return {"cache_version": CACHE_VERSION, "twins": list(twins),
            "config": to_jsonable(config.to_dict())}


def run_key(config, twins):
    """A stable 16-hex-digit name for training ``config`` with ``twins``.

    The hash covers TrainConfig.to_dict() (sorted keys, so field order does not
    matter) and the twin names in order.
    """
    text = json.dumps(key_document(config, twins), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def params_name(twin):
    return f"params-{twin}.npz"


def save_params(path, params):
    """Write params (list of (W, b)) as W0, b0, W1, b1, ... in one .npz, atomically."""
    arrays = {}
    for i, (W, b) in enumerate(params):
        arrays[f"W{i}"] = np.asarray(W)
        arrays[f"b{i}"] = np.asarray(b)
    with atomic_path(path) as tmp:
        # A file object, because np.savez would append ".npz" to a bare name.
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)


def load_params(path):
    """Read a params .npz written by save_params; returns list of (W, b)."""
    with np.load(path, allow_pickle=False) as data:
        n_layers = len([k for k in data.files if k.startswith("W")])
        return [(data[f"W{i}"], data[f"b{i}"]) for i in range(n_layers)]


class RunCache:
    """The finished runs under ``OUT/runs``."""

    def __init__(self, out_dir):
        self.root = Path(out_dir) / "runs"

    def folder(self, key):
        return self.root / key

    def has(self, config, twins):
        """True when a whole run of ``config`` with ``twins`` is on disk."""
        return self.load(config, twins, with_params=False) is not None

    def load(self, config, twins, with_params=True):
        """Return the cached RunOutcome, or None when the run is not (wholly) there.

        A folder whose config.json does not match ``config`` (a damaged or
        foreign folder) counts as absent, so the run is trained again.
        """
        folder = self.folder(run_key(config, twins))
        try:
            stored = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))
            done = json.loads((folder / METRICS_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if stored != key_document(config, twins):
            return None
        params = {}
        if done["status"] == OK and with_params:
            try:
                params = {t: load_params(folder / params_name(t)) for t in twins}
            except (OSError, ValueError, KeyError):
                return None
        return RunOutcome(status=done["status"], metrics=done["metrics"], params=params,
                          message=done.get("message", ""),
                          wall_seconds=float(done.get("wall_seconds", 0.0)),
                          code=done.get("code", ""))

    def store(self, config, twins, outcome):
        """Write ``outcome`` for ``config`` (stamping it with the code fingerprint).

        Returns the run's folder.
        """
        outcome.code = code_fingerprint()
        folder = self.folder(run_key(config, twins))
        for twin, params in outcome.params.items():
            save_params(folder / params_name(twin), params)
        write_json(folder / CONFIG_NAME, key_document(config, twins))
        # Last: its presence is what marks the run as finished.
        write_json(folder / METRICS_NAME, {
            "status": outcome.status, "message": outcome.message,
            "wall_seconds": outcome.wall_seconds, "code": outcome.code,
            "metrics": to_jsonable(outcome.metrics)})
        return folder
