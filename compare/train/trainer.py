"""One minibatch-SGD trainer for any twin, or for several in lockstep.

Twins come from the registry (``compare.twins.TWINS``) and are used only
through their interface: every step is the twin's ``loss_and_grads``
followed by the same update (``compare.train.sgd``), every evaluation its
``forward``, both looked up at call time, so a replaced function is what
trains. In lockstep the twins start from the same parameters and see the
same batches (compare.data.batches is the only source of batch order), so
any difference between their parameters comes from their gradients alone.

Every epoch's parameters and metrics are checkpointed; a resumed run
continues to bit-identically the parameters of an uninterrupted one, because
nothing but the parameters carries over between epochs: the batch order and
the learning rate depend only on (seed, epoch).
"""

import contextlib
import itertools
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace, TracebackType
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm  # type: ignore[import-untyped]

from compare.common.errors import ConfigError, DivergenceError, TwinpropError
from compare.data.batches import batch_indices
from compare.train import run_files
from compare.train.checkpoint import CHECKPOINT_NAME, save_checkpoint
from compare.train.config import DataSizes, TrainConfig, check_fits
from compare.train.evaluate import evaluate
from compare.train.run_files import Metrics
from compare.train.run_state import StartState, open_run
from compare.train.schedules import learning_rate
from compare.train.sgd import SGD
from compare.twins import TWINS, Params, check_twin_names, get_twin

__all__ = ["TrainConfig", "TrainResult", "TrainingInterrupted", "run_training"]


class DataLike(Protocol):
    """What the trainer reads of a data set (compare.data.load.Dataset has it all)."""

    x_train: NDArray   # (n_train, n_features)
    y_train: NDArray   # (n_train,) integer labels
    x_test: NDArray    # (n_test, n_features)
    y_test: NDArray    # (n_test,)
    n_classes: int


@dataclass
class TrainResult:
    """What a run produced: ``metrics`` twin -> per-epoch dicts, ``params`` twin -> [(W, b)]."""

    config: TrainConfig
    metrics: Metrics
    params: dict[str, Params]
    out_dir: Path | None


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training; the last completed epoch is in the checkpoint."""

    def __init__(self, completed_epochs: int, out_dir: Path | None) -> None:
        super().__init__(f"interrupted after {completed_epochs} completed epochs")
        self.completed_epochs = completed_epochs
        self.out_dir = out_dir


class SaveFailed(TwinpropError):
    """An epoch could not be written to the run folder (disk full, folder gone, ...)."""

    exit_code = 1


def run_training(cfg: TrainConfig, twins: "tuple[str, ...] | list[str] | str" = tuple(TWINS),
                 data: DataLike | None = None, out_dir: "str | Path | None" = None,
                 progress: bool = False, resume: bool = False,
                 on_epoch: Callable[[dict[str, dict[str, Any]]], None] | None = None,
                 start: StartState | None = None) -> TrainResult:
    """Train ``twins`` (one, or several in lockstep) with minibatch SGD under ``cfg``.

    Args:
        cfg: TrainConfig (checked on creation; trusted here).
        twins: names of registered twins (compare.twins.TWINS), e.g. ("manual", "autodiff").
        data: Dataset-like object (x_train (N, D), y_train (N,), x_test,
            y_test, n_classes); None loads ``cfg.dataset`` with compare.data.load.
        out_dir: folder for config.json, metrics.json and checkpoint.npz,
            all rewritten after every epoch; None writes nothing.
        progress: show a progress bar (only when stderr is a terminal).
        resume: continue from the checkpoint in ``out_dir`` (checked first
            with compare.train.run_state.open_run).
        on_epoch: optional callback ``on_epoch(epoch_metrics)`` called after
            every epoch with dict twin -> that epoch's metrics.
        start: with ``resume``, the state the caller already read with
            open_run (so the folder is checked once); None reads it here.
    Returns:
        TrainResult.
    Raises:
        ConfigError (bad twins, data too small for the config, a run folder
        that does not match), DivergenceError (NaN/inf loss or overflow),
        SaveFailed (an epoch could not be written), TrainingInterrupted (Ctrl-C).
        Whatever is raised, the run folder holds every completed epoch.
    """
    twins = check_twin_names(twins)
    prepared = _prepare_data(cfg, data, quiet=not progress)
    out = Path(out_dir) if out_dir is not None else None
    if resume and out is None:
        raise ConfigError("resume needs the run folder; pass --out with --resume")
    if resume and out is not None and start is None:
        start = open_run(out, cfg, twins, _sizes(prepared))
    params, metrics, done = _starting_point(cfg, twins, prepared, start if resume else None)
    if out is not None:
        with _saving(out, done):
            run_files.write_config(out, cfg.to_dict(), twins, _describe(prepared))
            run_files.write_metrics(out, metrics)
    saved = done
    steppers = {name: SGD(get_twin(name), cfg.activation) for name in twins}
    try:
        for epoch in range(done, cfg.epochs):
            record = _train_epoch(cfg, steppers, params, prepared, epoch, progress)
            for name in twins:
                metrics[name].append(record[name])
            done = epoch + 1
            if out is not None:
                _save(out, cfg, params, metrics, done, saved)
                saved = done
            if on_epoch is not None:
                on_epoch(record)
    except KeyboardInterrupt:
        # Ctrl-C can land while the last completed epoch is being saved; the
        # parameters are then still that epoch's, so save them again.
        if out is not None and saved < done:
            _save(out, cfg, params, metrics, done, saved)
        raise TrainingInterrupted(done, out) from None
    return TrainResult(cfg, metrics, params, out)


def _prepare_data(cfg: TrainConfig, data: DataLike | None, quiet: bool) -> SimpleNamespace:
    """Subset and cast the data to ``cfg.dtype``.

    The catalog's data sets were checked against ``cfg`` when it was made;
    data handed in is checked here to be large enough for it.
    """
    if data is None:
        from compare.data.load import load_dataset
        data = load_dataset(name=cfg.dataset, dtype=cfg.dtype, seed=cfg.seed, quiet=quiet)
    else:
        check_fits(cfg, DataSizes(len(data.y_train), len(data.y_test),
                                  int(data.x_train.shape[1]), int(data.n_classes)),
                   getattr(data, "name", "the data"))
    return SimpleNamespace(
        x_train=np.asarray(data.x_train[:cfg.train_subset], dtype=cfg.dtype),
        y_train=np.asarray(data.y_train[:cfg.train_subset], dtype=np.int64),
        x_test=np.asarray(data.x_test[:cfg.test_subset], dtype=cfg.dtype),
        y_test=np.asarray(data.y_test[:cfg.test_subset], dtype=np.int64),
        n_classes=int(data.n_classes),
        name=getattr(data, "name", cfg.dataset),
        source=getattr(data, "source", None),
    )


def _sizes(data: SimpleNamespace) -> DataSizes:
    return DataSizes(len(data.y_train), len(data.y_test), int(data.x_train.shape[1]),
                     data.n_classes)


def _describe(data: SimpleNamespace) -> dict[str, Any]:
    return {"name": data.name, "source": data.source, "n_train": len(data.y_train),
            "n_test": len(data.y_test), "n_features": int(data.x_train.shape[1]),
            "n_classes": data.n_classes}


def _starting_point(cfg: TrainConfig, twins: tuple[str, ...], data: SimpleNamespace,
                    start: StartState | None) -> tuple[dict[str, Params], Metrics, int]:
    """Return (params, metrics, completed_epochs) to start training from.

    Without a saved state (a new run, or one stopped before its first epoch
    ended) that is the seeded initialisation: resuming such a run IS the
    uninterrupted run.
    """
    if start is not None:
        return start.params, start.metrics, start.epoch
    from compare.common.init import init_params
    sizes = [data.x_train.shape[1], *cfg.hidden, data.n_classes]
    first = init_params(sizes, init=cfg.init, seed=cfg.seed, dtype=cfg.dtype)
    # Each twin gets its own copy: SGD updates the arrays in place.
    params = {name: [(np.array(W), np.array(b)) for W, b in first] for name in twins}
    return params, {name: [] for name in twins}, 0


def _save(out_dir: Path, cfg: TrainConfig, params: dict[str, Params], metrics: Metrics,
          done: int, saved: int) -> None:
    """Write epoch ``done``: the checkpoint first, then metrics.json (it may lag by one)."""
    with _saving(out_dir, saved):
        save_checkpoint(out_dir / CHECKPOINT_NAME, params,
                        {"epoch": done, "config": cfg.to_dict(), "metrics": metrics})
        run_files.write_metrics(out_dir, metrics)


@contextlib.contextmanager
def _saving(out_dir: Path, saved: int) -> Iterator[None]:
    """Turn an OSError of the writes inside into SaveFailed saying what the folder holds."""
    try:
        yield
    except OSError as err:
        holds = (f"it still holds the {saved} completed epoch{'s' if saved != 1 else ''}"
                 if saved else "no epoch was completed")
        raise SaveFailed(f"could not write to {out_dir} ({err.strerror or err}); {holds}; "
                         f"fix the folder (space, permissions), then continue with --resume "
                         f"--out {out_dir}") from None


def _train_epoch(cfg: TrainConfig, steppers: dict[str, SGD], params: dict[str, Params],
                 data: SimpleNamespace, epoch: int, progress: bool) -> dict[str, dict[str, Any]]:
    """Run one epoch of SGD for every twin in place; return twin -> metrics dict.

    ``epoch`` is zero-based; the metrics carry ``epoch + 1`` (epochs completed).
    """
    lr = learning_rate(cfg.schedule, cfg.lr, cfg.decay, epoch, cfg.step_every)
    batches = batch_indices(len(data.y_train), cfg.batch_size, cfg.seed, epoch)
    seconds = dict.fromkeys(steppers, 0.0)
    running = dict.fromkeys(steppers, 0.0)
    bar = tqdm(batches, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", leave=False,
               file=sys.stderr, disable=not (progress and sys.stderr.isatty()))
    name, step = "", 0
    # One error state for the whole loop (entering one per step shows at batch 1);
    # name and step say where the first bad number came.
    with _diverging_means(cfg, lambda: (name, f"at epoch {epoch + 1}, step {step}")):
        for step, rows in enumerate(bar, start=1):
            for name, stepper in steppers.items():
                start = time.perf_counter()
                # Each stepper gathers the batch's rows itself, a chunk at a time.
                loss = stepper.step(params[name], data.x_train, data.y_train, lr, rows=rows)
                if not np.isfinite(loss):
                    raise FloatingPointError(f"the loss is {loss}")
                seconds[name] += time.perf_counter() - start
                running[name] += loss
            if step % 10 == 0 or step == len(batches):
                bar.set_postfix({f"{n} loss": f"{running[n] / step:.4f}" for n in steppers},
                                refresh=False)
    bar.close()

    record = {}
    for name, stepper in steppers.items():
        with _diverging_means(cfg, _at(name, f"in the evaluation after epoch {epoch + 1}")):
            train_loss, train_acc = evaluate(stepper.twin.forward, params[name], data.x_train,
                                             data.y_train, cfg.activation)
            test_loss, test_acc = evaluate(stepper.twin.forward, params[name], data.x_test,
                                           data.y_test, cfg.activation)
        record[name] = {"epoch": epoch + 1, "train_loss": train_loss, "train_acc": train_acc,
                        "test_loss": test_loss, "test_acc": test_acc,
                        "seconds": seconds[name], "lr": lr}
    if len(steppers) > 1:
        # the largest difference between any two twins' parameters
        diff = max(max_param_diff(params[a], params[b])
                   for a, b in itertools.combinations(steppers, 2))
        for name in steppers:
            record[name]["max_param_diff"] = diff
    return record


def _at(twin: str, place: str) -> Callable[[], tuple[str, str]]:
    """A fixed answer to _diverging_means' question of where."""
    return lambda: (twin, place)


class _diverging_means:
    """Turn overflow, invalid values and NaN/inf losses into one DivergenceError.

    numpy is set to raise on overflow/invalid/divide (the test suite treats the
    same conditions as errors), so the first bad number stops the run with the
    twin, the place and a way out, not a warning flood and a NaN curve.
    """

    def __init__(self, cfg: TrainConfig, where: Callable[[], tuple[str, str]]) -> None:
        """``where()`` gives (twin, place) when it went wrong; it is asked only then."""
        self.cfg, self.where = cfg, where
        self.errstate = np.errstate(over="raise", invalid="raise", divide="raise")

    def __enter__(self) -> None:
        self.errstate.__enter__()

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.errstate.__exit__(kind, err, tb)
        if kind is FloatingPointError:
            twin, place = self.where()
            raise DivergenceError(
                f"the {twin} twin diverged {place} ({err}) with learning rate "
                f"{self.cfg.lr:g}; try a lower one, e.g. --lr {self.cfg.lr / 10:g}") from None


def max_param_diff(params_a: Params, params_b: Params) -> float:
    """Largest absolute difference between two parameter lists of the same shapes."""
    return max(float(np.max(np.abs(np.asarray(pa, dtype=np.float64) - np.asarray(pb, np.float64))))
               for layer_a, layer_b in zip(params_a, params_b)
               for pa, pb in zip(layer_a, layer_b))
