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

import itertools
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from tqdm import tqdm

from compare.common.errors import ConfigError, DivergenceError
from compare.data.batches import batch_indices
from compare.train import run_files
from compare.train.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from compare.train.config import TrainConfig
from compare.train.evaluate import evaluate
from compare.train.schedules import learning_rate
from compare.train.sgd import SGD
from compare.twins import TWINS, check_twin_names, get_twin

__all__ = ["TrainConfig", "TrainResult", "TrainingInterrupted", "check_batch_size",
           "run_training"]


@dataclass
class TrainResult:
    """What a run produced: ``metrics`` twin -> per-epoch dicts, ``params`` twin -> [(W, b)]."""

    config: TrainConfig
    metrics: dict
    params: dict
    out_dir: Path | None


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training; the last completed epoch is in the checkpoint."""

    def __init__(self, completed_epochs, out_dir):
        super().__init__(f"interrupted after {completed_epochs} completed epochs")
        self.completed_epochs = completed_epochs
        self.out_dir = out_dir


def run_training(cfg, twins=tuple(TWINS), data=None, out_dir=None, progress=False,
                 resume=False, on_epoch=None):
    """Train ``twins`` (one, or several in lockstep) with minibatch SGD under ``cfg``.

    Args:
        cfg: TrainConfig.
        twins: names of registered twins (compare.twins.TWINS), e.g. ("manual", "autodiff").
        data: Dataset-like object (x_train (N, D), y_train (N,), x_test,
            y_test, n_classes); None loads ``cfg.dataset`` with compare.data.load.
        out_dir: folder for config.json, metrics.json and checkpoint.npz,
            all rewritten after every epoch; None writes nothing.
        progress: show a progress bar (only when stderr is a terminal).
        resume: continue from the checkpoint in ``out_dir``.
        on_epoch: optional callback ``on_epoch(epoch_metrics)`` called after
            every epoch with dict twin -> that epoch's metrics.
    Returns:
        TrainResult.
    Raises:
        ConfigError (bad twins, batch size, resume mismatch), DivergenceError
        (NaN/inf loss or overflow), TrainingInterrupted (Ctrl-C).
    """
    twins = check_twin_names(twins)
    data = _prepare_data(cfg, data, quiet=not progress)
    out_dir = Path(out_dir) if out_dir is not None else None
    if resume and out_dir is None:
        raise ConfigError("resume needs the run folder; pass --out with --resume")

    params, metrics, done = _starting_state(cfg, twins, data, out_dir, resume)
    if out_dir is not None:
        run_files.write_config(out_dir, cfg.to_dict(), twins, _describe(data))
        run_files.write_metrics(out_dir, metrics)
    saved = done
    steppers = {name: SGD(get_twin(name), cfg.activation) for name in twins}
    try:
        for epoch in range(done, cfg.epochs):
            record = _train_epoch(cfg, steppers, params, data, epoch, progress)
            for name in twins:
                metrics[name].append(record[name])
            done = epoch + 1
            if out_dir is not None:
                _save(out_dir, cfg, params, metrics, done)
                saved = done
            if on_epoch is not None:
                on_epoch(record)
    except KeyboardInterrupt:
        # Ctrl-C can land while the last completed epoch is being saved; the
        # parameters are then still that epoch's, so save them again.
        if out_dir is not None and saved < done:
            _save(out_dir, cfg, params, metrics, done)
        raise TrainingInterrupted(done, out_dir) from None
    return TrainResult(cfg, metrics, params, out_dir)


def _prepare_data(cfg, data, quiet):
    """Subset and cast the data to ``cfg.dtype``; check the batch size fits."""
    if data is None:
        from compare.data.load import load_dataset
        data = load_dataset(name=cfg.dataset, dtype=cfg.dtype, seed=cfg.seed, quiet=quiet)
    prepared = SimpleNamespace(
        x_train=np.asarray(data.x_train[:cfg.train_subset], dtype=cfg.dtype),
        y_train=np.asarray(data.y_train[:cfg.train_subset], dtype=np.int64),
        x_test=np.asarray(data.x_test[:cfg.test_subset], dtype=cfg.dtype),
        y_test=np.asarray(data.y_test[:cfg.test_subset], dtype=np.int64),
        n_classes=int(data.n_classes),
        name=getattr(data, "name", cfg.dataset),
        source=getattr(data, "source", None),
    )
    check_batch_size(cfg, len(prepared.y_train))
    return prepared


def check_batch_size(cfg, n_train):
    """Raise ConfigError unless ``cfg.batch_size`` fits ``n_train`` training examples."""
    if cfg.batch_size is not None and cfg.batch_size > n_train:
        raise ConfigError(f"batch size {cfg.batch_size} is larger than the {n_train} training "
                          f"examples; use a smaller --batch-size or --batch-size full")


def _describe(data):
    return {"name": data.name, "source": data.source, "n_train": len(data.y_train),
            "n_test": len(data.y_test), "n_features": int(data.x_train.shape[1]),
            "n_classes": data.n_classes}


def _starting_state(cfg, twins, data, out_dir, resume):
    """Return (params, metrics, completed_epochs) to start training from."""
    checkpoint = out_dir / CHECKPOINT_NAME if out_dir is not None else None
    if resume and checkpoint.is_file():
        params, state = load_checkpoint(checkpoint)
        saved_cfg = TrainConfig.from_dict(state["config"])
        _check_resumable(cfg, saved_cfg, twins, state, out_dir)
        return params, state["metrics"], state["epoch"]
    if resume:
        # Interrupted before the first epoch ended: nothing to load, so
        # starting afresh IS the uninterrupted run, as long as it is the same run.
        saved = run_files.read_config(out_dir)
        _check_resumable(cfg, TrainConfig.from_dict(saved["config"]), twins,
                         {"twins": saved["twins"], "epoch": 0}, out_dir)
    from compare.common.init import init_params
    sizes = [data.x_train.shape[1], *cfg.hidden, data.n_classes]
    start = init_params(sizes, init=cfg.init, seed=cfg.seed, dtype=cfg.dtype)
    # Each twin gets its own copy: SGD updates the arrays in place.
    params = {name: [(np.array(W), np.array(b)) for W, b in start] for name in twins}
    return params, {name: [] for name in twins}, 0


def _check_resumable(cfg, saved_cfg, twins, state, out_dir):
    if list(state["twins"]) != list(twins):
        raise ConfigError(f"{out_dir} holds a run of {state['twins']}, not {list(twins)}; "
                          f"resume it with the same command")
    # Only the number of epochs may change: a run can be extended.
    if saved_cfg.replace(epochs=cfg.epochs) != cfg:
        changed = [k for k, v in cfg.to_dict().items()
                   if k != "epochs" and saved_cfg.to_dict()[k] != v]
        raise ConfigError(f"{out_dir} was trained with other options ({', '.join(changed)}); "
                          f"resume it with the options in its config.json")
    if state["epoch"] > cfg.epochs:
        raise ConfigError(f"{out_dir} already has {state['epoch']} epochs, more than the "
                          f"{cfg.epochs} asked for; resume with --epochs {state['epoch']} or more")


def _save(out_dir, cfg, params, metrics, done):
    save_checkpoint(out_dir / CHECKPOINT_NAME, params,
                    {"epoch": done, "config": cfg.to_dict(), "metrics": metrics})
    run_files.write_metrics(out_dir, metrics)


def _train_epoch(cfg, steppers, params, data, epoch, progress):
    """Run one epoch of SGD for every twin in place; return twin -> metrics dict.

    ``epoch`` is zero-based; the metrics carry ``epoch + 1`` (epochs completed).
    """
    lr = learning_rate(cfg.schedule, cfg.lr, cfg.decay, epoch, cfg.step_every)
    batches = batch_indices(len(data.y_train), cfg.batch_size, cfg.seed, epoch)
    seconds = dict.fromkeys(steppers, 0.0)
    running = dict.fromkeys(steppers, 0.0)
    # One gather buffer for the whole epoch: X = x_train[idx] would allocate
    # a fresh batch-sized array every step. mode="clip" lets take write
    # straight into it (mode="raise" copies through a temporary); the indices
    # are a permutation of range(len(x_train)), so none is ever clipped.
    gathered = np.empty((len(batches[0]), data.x_train.shape[1]), data.x_train.dtype)
    bar = tqdm(batches, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", leave=False,
               file=sys.stderr, disable=not (progress and sys.stderr.isatty()))
    for step, idx in enumerate(bar, start=1):
        X = np.take(data.x_train, idx, axis=0, out=gathered[:len(idx)], mode="clip")
        y = data.y_train[idx]
        for name, stepper in steppers.items():
            start = time.perf_counter()
            loss = _sgd_step(stepper, name, params[name], X, y, cfg, lr, epoch, step)
            seconds[name] += time.perf_counter() - start
            running[name] += loss
        if step % 10 == 0 or step == len(batches):
            bar.set_postfix({f"{n} loss": f"{running[n] / step:.4f}" for n in steppers},
                            refresh=False)
    bar.close()

    record = {}
    for name, stepper in steppers.items():
        with _diverging_means(name, cfg, f"in the evaluation after epoch {epoch + 1}"):
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


def _sgd_step(stepper, name, params, X, y, cfg, lr, epoch, step):
    """One SGD step on ``params`` in place; return the batch loss (float)."""
    with _diverging_means(name, cfg, f"at epoch {epoch + 1}, step {step}"):
        loss = stepper.step(params, X, y, lr)
        if not np.isfinite(loss):
            raise FloatingPointError(f"the loss is {loss}")
    return loss


class _diverging_means:
    """Turn overflow, invalid values and NaN/inf losses into one DivergenceError.

    numpy is set to raise on overflow/invalid/divide (the test suite treats the
    same conditions as errors), so the first bad number stops the run with the
    twin, the place and a way out, not a warning flood and a NaN curve.
    """

    def __init__(self, twin, cfg, where):
        self.twin, self.cfg, self.where = twin, cfg, where
        self.errstate = np.errstate(over="raise", invalid="raise", divide="raise")

    def __enter__(self):
        self.errstate.__enter__()

    def __exit__(self, kind, err, tb):
        self.errstate.__exit__(kind, err, tb)
        if kind is FloatingPointError:
            raise DivergenceError(
                f"the {self.twin} twin diverged {self.where} ({err}) with learning rate "
                f"{self.cfg.lr:g}; try a lower one, e.g. --lr {self.cfg.lr / 10:g}") from None
        return False


def max_param_diff(params_a, params_b):
    """Largest absolute difference between two parameter lists of the same shapes (float)."""
    return max(float(np.max(np.abs(np.asarray(pa, dtype=np.float64) - np.asarray(pb, np.float64))))
               for layer_a, layer_b in zip(params_a, params_b)
               for pa, pb in zip(layer_a, layer_b))
