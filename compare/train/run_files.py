"""The files of one run folder: config.json, metrics.json, checkpoint, curves.

A run folder holds:
- ``config.json``: ``{"twins": [...], "config": TrainConfig.to_dict(), "data": {...}}``
- ``metrics.json``: ``{twin: [one object per epoch]}``, rewritten after every epoch
- ``checkpoint.npz``: see compare/train/checkpoint.py
- ``curves.png``: drawn from metrics.json by compare/train/curves.py

An existing folder is never overwritten unless the caller asks (``--force``).
"""

import json
from pathlib import Path

from compare.atomic import write_json
from compare.common.errors import ConfigError
from compare.train.checkpoint import CHECKPOINT_NAME

CONFIG_NAME = "config.json"
METRICS_NAME = "metrics.json"
CURVES_NAME = "curves.png"
# The files a run writes: --force replaces exactly these and nothing else, so
# a mistyped --out never deletes a user's own files.
RUN_FILES = (CONFIG_NAME, METRICS_NAME, CHECKPOINT_NAME, CURVES_NAME)


def prepare_out_dir(out_dir, force=False, resume=False):
    """Make ``out_dir`` ready for a run and return it as a Path.

    - resume: the folder must hold a config.json to continue from.
    - force: the run's own files in it are removed (other files are kept).
    - otherwise: the folder must not exist yet or must be empty.
    Raises ConfigError naming the way out when the folder cannot be used.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a folder; choose another --out")
    if resume:
        if not (out / CONFIG_NAME).is_file():
            raise ConfigError(f"nothing to resume in {out} (no {CONFIG_NAME}); "
                              f"start a new run without --resume")
        return out
    if out.exists() and any(out.iterdir()):
        if not force:
            raise ConfigError(f"{out} already exists; choose another --out, add --force "
                              f"to overwrite it, or --resume to continue it")
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_config(out_dir, config_dict, twins, data_info):
    """Write config.json: the run's TrainConfig, twins and data description."""
    write_json(Path(out_dir) / CONFIG_NAME,
               {"twins": list(twins), "config": config_dict, "data": data_info})


def read_config(out_dir):
    """Return the dict stored in ``out_dir``/config.json (ConfigError if unreadable)."""
    return _read_json(Path(out_dir) / CONFIG_NAME)


def write_metrics(out_dir, metrics):
    """Write metrics.json: dict twin name -> list of per-epoch dicts."""
    write_json(Path(out_dir) / METRICS_NAME, metrics)


def read_metrics(run_dir):
    """Return the metrics dict stored in ``run_dir``/metrics.json."""
    return _read_json(Path(run_dir) / METRICS_NAME)


def _read_json(path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist; point at a folder written by "
                          f"'twinprop train' or 'twinprop compare'") from None
    except (OSError, ValueError) as err:
        raise ConfigError(f"{path} is unreadable ({err}); rerun the training with --force") from None
