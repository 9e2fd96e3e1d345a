"""Where a resumed run starts: its folder's files, checked against the run's config.

Before a resumed run uses anything from its folder, everything there must be
what an uninterrupted run of the same config would have written: config.json
of the same options and twins, a checkpoint whose arrays have this network's
shapes and dtype and finite values, whose epoch and metrics agree, and a
metrics.json that is that checkpoint's record (or the epoch before it: a run
killed between writing the two). Anything else is refused in one line,
before any file is touched.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from compare.common.errors import ConfigError
from compare.train import run_files
from compare.train.checkpoint import CHECKPOINT_NAME, damaged, load_checkpoint
from compare.train.config import DataSizes, TrainConfig
from compare.train.run_files import (
    CONFIG_NAME,
    METRICS_NAME,
    DamagedFile,
    Metrics,
    check_metrics,
)
from compare.twins import Params


@dataclass
class StartState:
    """Where training starts: ``epoch`` epochs done, their ``metrics``, every twin's ``params``."""

    params: dict[str, Params]
    metrics: Metrics
    epoch: int


def saved_config(out_dir: Path) -> tuple[TrainConfig, tuple[str, ...]]:
    """The TrainConfig and twins of the run in ``out_dir``, from its config.json."""
    options, twins = run_files.read_config(out_dir)
    return _config(options, out_dir / CONFIG_NAME), twins


def _config(options: Any, where: Path) -> TrainConfig:
    try:
        return TrainConfig.from_dict(options, where=str(where))
    except ConfigError as err:
        raise damaged(where, f"holds options no run could have had ({err})") from None


def open_run(out_dir: Path, cfg: TrainConfig, twins: tuple[str, ...],
             sizes: DataSizes) -> StartState | None:
    """The state to resume the run in ``out_dir`` from; None if no epoch was completed.

    Args:
        out_dir: the run folder.
        cfg: the resumed run's config (may differ from the saved one in epochs only).
        twins: the resumed run's twins.
        sizes: the data's sizes (features and classes decide the shapes).
    Raises:
        ConfigError: any file that is not what this run would have written.
    """
    saved, saved_twins = saved_config(out_dir)
    check_same_run(cfg, twins, saved, saved_twins, out_dir)
    checkpoint = out_dir / CHECKPOINT_NAME
    metrics_path = out_dir / METRICS_NAME
    on_disk = run_files.read_metrics(out_dir) if metrics_path.exists() else None
    if not checkpoint.exists():
        done = len(next(iter(on_disk.values()))) if on_disk else 0
        if done:
            raise damaged(metrics_path, f"records {done} epochs but there is no "
                                        f"{CHECKPOINT_NAME} to continue from")
        return None
    params, state = load_checkpoint(checkpoint)
    state_cfg = _config(state.get("config"), checkpoint)
    check_same_run(cfg, twins, state_cfg, tuple(state["twins"]), checkpoint)
    epoch = state.get("epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 1 <= epoch <= state_cfg.epochs:
        raise damaged(checkpoint, f"is at epoch {epoch!r}, not a whole number in "
                                  f"1..{state_cfg.epochs}")
    metrics = check_metrics(state.get("metrics"), checkpoint)
    if list(metrics) != list(twins) or len(metrics[twins[0]]) != epoch:
        raise damaged(checkpoint, f"holds metrics of {list(metrics)} for "
                                  f"{len(next(iter(metrics.values())))} epochs, not of "
                                  f"{list(twins)} for its {epoch}")
    check_params(params, cfg, sizes, checkpoint)
    if on_disk is not None:
        _check_metrics_file(on_disk, metrics, metrics_path)
    if epoch > cfg.epochs:
        raise ConfigError(f"{out_dir} already has {epoch} epochs, more than the "
                          f"{cfg.epochs} asked for; resume with --epochs {epoch} or more")
    return StartState(params, metrics, epoch)


def check_same_run(cfg: TrainConfig, twins: tuple[str, ...], saved: TrainConfig,
                   saved_twins: tuple[str, ...], where: Path) -> None:
    """Refuse to resume with other twins or options than ``where`` was written with.

    Only the number of epochs may change: a run can be extended.
    """
    if saved_twins != tuple(twins):
        raise ConfigError(f"{where} holds a run of {list(saved_twins)}, not {list(twins)}; "
                          f"resume it with the same command")
    # Compared as plain values: a TrainConfig made of the saved options with the
    # new epoch count would be checked again and might refuse for another reason.
    old = saved.to_dict()
    changed = [k for k, v in cfg.to_dict().items() if k != "epochs" and old[k] != v]
    if changed:
        raise ConfigError(f"{where} was written with other options ({', '.join(changed)}); "
                          f"resume it with the options in its {CONFIG_NAME}")


def check_params(params: dict[str, Params], cfg: TrainConfig, sizes: DataSizes,
                 where: "str | Path") -> None:
    """Every twin's layers must have this network's shapes, the run's dtype, finite values.

    Raises:
        DamagedFile: (a ConfigError) naming ``where``, the twin, the layer and the fault.
    """
    widths = [sizes.n_features, *cfg.hidden, sizes.n_classes]
    for twin, layers in params.items():
        if len(layers) != len(widths) - 1:
            raise DamagedFile(where, f"holds {len(layers)} layers for {twin}, but the "
                                       f"network {widths} has {len(widths) - 1}")
        for k, (W, b) in enumerate(layers):
            for name, array, shape in ((f"W{k + 1}", W, (widths[k], widths[k + 1])),
                                       (f"b{k + 1}", b, (widths[k + 1],))):
                if array.shape != shape or array.dtype != np.dtype(cfg.dtype):
                    raise DamagedFile(where, f"holds {twin} {name} of shape {array.shape} "
                                               f"and dtype {array.dtype}, not {shape} "
                                               f"{cfg.dtype}")
                if not np.isfinite(array).all():
                    raise DamagedFile(where, f"holds non-finite values in {twin} {name}")


def _check_metrics_file(on_disk: Metrics, metrics: Metrics, path: Path) -> None:
    """metrics.json must be the checkpoint's record, or lag it by the one epoch being saved."""
    epoch = len(next(iter(metrics.values())))
    ok = list(on_disk) == list(metrics) and all(
        on_disk[t] == metrics[t][:len(on_disk[t])] and len(on_disk[t]) in (epoch - 1, epoch)
        for t in metrics)
    if not ok:
        raise damaged(path, f"disagrees with {CHECKPOINT_NAME} (epoch {epoch}); delete it "
                            f"to have it rewritten from the checkpoint on --resume")
