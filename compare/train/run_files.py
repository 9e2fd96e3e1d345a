"""The files of one run folder: config.json, metrics.json, checkpoint, curves.

A run folder holds:
- ``config.json``: ``{"twins": [...], "config": TrainConfig.to_dict(), "data": {...}}``
- ``metrics.json``: ``{twin: [one object per epoch]}``, rewritten after every epoch
- ``checkpoint.npz``: see compare/train/checkpoint.py
- ``curves.png``: drawn from metrics.json by compare/train/curves.py

An existing folder is never overwritten unless the caller asks (``--force``).
Whatever is read back is checked for the form written here before use, so
a damaged file is refused in one line instead of misleading a run or a plot.
"""

import json
import math
from pathlib import Path
from typing import Any

from compare.atomic import (
    check_output_dir,
    remove_stale_temporaries,
    stale_temporaries,
    write_json,
)
from compare.common.errors import ConfigError
from compare.train.checkpoint import CHECKPOINT_NAME, check_twin_list, damaged

CONFIG_NAME = "config.json"
METRICS_NAME = "metrics.json"
CURVES_NAME = "curves.png"
# The files a run writes: --force replaces exactly these and nothing else, so
# a mistyped --out never deletes a user's own files.
RUN_FILES = (CONFIG_NAME, METRICS_NAME, CHECKPOINT_NAME, CURVES_NAME)

Metrics = dict[str, list[dict[str, Any]]]
"""twin name -> one dict per completed epoch (epoch 1 first)."""

# Every epoch's record: its fields and the range each must lie in.
EPOCH_FIELDS: dict[str, tuple[float, float]] = {
    "train_loss": (0.0, math.inf), "train_acc": (0.0, 1.0),
    "test_loss": (0.0, math.inf), "test_acc": (0.0, 1.0),
    "seconds": (0.0, math.inf), "lr": (0.0, math.inf),
}
# Only runs of several twins in lockstep record it.
DIFF_FIELD = "max_param_diff"


class DamagedFile(ConfigError):
    """A run file that does not hold what it should: ``why`` says how; the message adds the fix.

    Callers that answer the fault another way (reproduce retrains a cached
    run) tell ``why`` instead of the train command's ways out.
    """

    def __init__(self, where: "str | Path", why: str) -> None:
        super().__init__(str(damaged(where, why)))
        self.why = why


def check_out_dir(out_dir: "str | Path", force: bool = False, resume: bool = False) -> Path:
    """Refuse an --out that a run could not use, before any work and changing nothing.

    - it must be (or be creatable as) a writable folder, and none of the run's
      file names in it may be taken by a folder or another non-file;
    - resume: it must hold a config.json to continue from;
    - otherwise: it must be empty (temporaries of a killed run aside) unless ``force``.
    Raises ConfigError naming the way out.
    """
    out = check_output_dir(out_dir, "--out")
    if force and resume:
        raise ConfigError("--force starts the run in --out again and --resume continues it; "
                          "choose one")
    if not out.exists():
        if resume:
            raise ConfigError(f"nothing to resume: {out} does not exist; start a new run "
                              f"without --resume")
        return out
    for name in RUN_FILES:
        path = out / name
        if (path.exists() or path.is_symlink()) and not path.is_file():
            raise ConfigError(f"{path} is not a file, so the run cannot write it; move it "
                              f"away or choose another --out")
    if resume:
        if not (out / CONFIG_NAME).is_file():
            raise ConfigError(f"nothing to resume in {out} (no {CONFIG_NAME}); "
                              f"start a new run without --resume")
        return out
    leftovers = set(stale_temporaries(out, RUN_FILES))
    if any(p not in leftovers for p in out.iterdir()) and not force:
        raise ConfigError(f"{out} already exists; choose another --out, add --force "
                          f"to overwrite it, or --resume to continue it")
    return out


def prepare_out_dir(out_dir: "str | Path", force: bool = False, resume: bool = False) -> Path:
    """Make ``out_dir`` ready for a run that :func:`check_out_dir` accepted; return it.

    Removes the temporaries a killed run left; with ``force`` (and not
    ``resume``) also the run's own files (other files are kept).
    """
    out = check_out_dir(out_dir, force=force, resume=resume)
    remove_stale_temporaries(out, RUN_FILES)
    if force and not resume:
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_config(out_dir: "str | Path", config_dict: dict[str, Any], twins: tuple[str, ...],
                 data_info: dict[str, Any]) -> None:
    """Write config.json: the run's TrainConfig, twins and data description."""
    write_json(Path(out_dir) / CONFIG_NAME,
               {"twins": list(twins), "config": config_dict, "data": data_info})


def read_config(out_dir: "str | Path") -> tuple[dict[str, Any], tuple[str, ...]]:
    """The options dict and twin names stored in ``out_dir``/config.json, their form checked.

    The options themselves are checked by TrainConfig.from_dict.
    Raises:
        ConfigError: missing, unreadable or not of the form write_config writes.
    """
    path = Path(out_dir) / CONFIG_NAME
    saved = _read_json(path)
    if not isinstance(saved, dict) or set(saved) != {"twins", "config", "data"}:
        keys = sorted(saved) if isinstance(saved, dict) else type(saved).__name__
        raise damaged(path, f"is not of the form {{twins, config, data}} (it holds {keys})")
    twins = saved["twins"]
    check_twin_list(twins, path)
    if not isinstance(saved["config"], dict) or not isinstance(saved["data"], dict):
        raise damaged(path, "holds a config or data entry that is not an object")
    return saved["config"], tuple(twins)


def write_metrics(out_dir: "str | Path", metrics: Metrics) -> None:
    """Write metrics.json: dict twin name -> list of per-epoch dicts."""
    write_json(Path(out_dir) / METRICS_NAME, metrics)


def read_metrics(run_dir: "str | Path") -> Metrics:
    """The metrics stored in ``run_dir``/metrics.json, checked by :func:`check_metrics`."""
    path = Path(run_dir) / METRICS_NAME
    return check_metrics(_read_json(path), path)


def check_metrics(metrics: object, where: "str | Path") -> Metrics:
    """Return ``metrics`` if it is what write_metrics writes, or raise DamagedFile.

    That is: an object twin -> list of epoch records, every twin with the same
    number of epochs numbered 1, 2, ..., each record holding exactly the
    fields of EPOCH_FIELDS (plus max_param_diff when several twins ran)
    with finite numbers in their ranges.
    """
    if not isinstance(metrics, dict) or not metrics:
        raise DamagedFile(where, "is not an object of twins and their epochs")
    lengths = set()
    for twin, epochs in metrics.items():
        if not isinstance(epochs, list):
            raise DamagedFile(where, f"has {twin!r}: {type(epochs).__name__}, not a list of "
                                     f"epochs")
        lengths.add(len(epochs))
        keys = {"epoch", *EPOCH_FIELDS} | ({DIFF_FIELD} if len(metrics) > 1 else set())
        for number, record in enumerate(epochs, start=1):
            _check_record(record, keys, number, f"{twin!r} epoch {number}", where)
    if len(lengths) > 1:
        raise DamagedFile(where, f"has twins with different numbers of epochs {sorted(lengths)}")
    return metrics


def _check_record(record: object, keys: set[str], number: int, what: str,
                  where: "str | Path") -> None:
    if not isinstance(record, dict) or set(record) != keys:
        got = sorted(record) if isinstance(record, dict) else type(record).__name__
        raise DamagedFile(where, f"has {what} holding {got}, not {sorted(keys)}")
    if record["epoch"] != number or isinstance(record["epoch"], bool):
        raise DamagedFile(where, f"numbers {what} as {record['epoch']!r}")
    for field in keys - {"epoch"}:
        low, high = EPOCH_FIELDS.get(field, (0.0, math.inf))
        value = record[field]
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not math.isfinite(value) or not low <= value <= high):
            raise DamagedFile(where, f"has {what} {field} = {value!r}, not a finite number "
                                     f"in [{low:g}, {high:g}]")


def _read_json(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist; point at a folder written by "
                          f"'twinprop train' or 'twinprop compare'") from None
    except (OSError, UnicodeDecodeError) as err:
        raise damaged(path, f"is unreadable ({type(err).__name__}: {err})") from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as err:
        raise damaged(path, f"is not valid JSON ({err})") from None
