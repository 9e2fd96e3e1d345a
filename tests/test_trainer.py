"""The trainer: determinism, resume, divergence, lockstep, edge cases, schedules.

Everything here trains tiny networks on a small synthetic data set, so the
whole file runs in seconds.
"""

import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import autodiff
import manual
from compare.common.errors import ConfigError, DataError, DivergenceError
from compare.common.init import init_params
from compare.train.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from compare.train.curves import plot_run
from compare.train.evaluate import evaluate
from compare.train.run_files import METRICS_NAME
from compare.train.schedules import SCHEDULES, learning_rate
from compare.train.trainer import (
    TrainConfig,
    TrainingInterrupted,
    max_param_diff,
    run_training,
)
from compare.twins import TWINS, Params

EPOCH_KEYS = {"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds", "lr"}


def make_blobs(n_train: int = 120, n_test: int = 40, n_features: int = 12, n_classes: int = 3,
               seed: int = 0) -> Any:
    """A Dataset-like object: Gaussian blobs in [0, 1], learnable in a few epochs."""
    rng = np.random.default_rng(seed)
    centres = rng.random((n_classes, n_features))
    y = rng.integers(0, n_classes, n_train + n_test)
    x = np.clip(centres[y] + 0.15 * rng.standard_normal((len(y), n_features)), 0, 1)
    return SimpleNamespace(x_train=x[:n_train], y_train=y[:n_train], x_test=x[n_train:],
                           y_test=y[n_train:], n_classes=n_classes, name="blobs",
                           source="synthetic")


@pytest.fixture
def blobs() -> Any:
    return make_blobs()


def tiny(**changes: Any) -> TrainConfig:
    """A tiny config: one hidden layer of 6, batches of 16, 3 epochs."""
    base = dict(hidden=(6,), batch_size=16, lr=0.5, decay=0.1, epochs=3, seed=1)
    return TrainConfig(**{**base, **changes})


def without_seconds(metrics: dict[str, list[dict[str, Any]]]
                    ) -> dict[str, list[dict[str, Any]]]:
    """Metrics with the wall-clock field removed (the only one allowed to differ)."""
    return {twin: [{k: v for k, v in e.items() if k != "seconds"} for e in epochs]
            for twin, epochs in metrics.items()}


def assert_params_identical(a: dict[str, Params], b: dict[str, Params]) -> None:
    for twin in a:
        for (Wa, ba), (Wb, bb) in zip(a[twin], b[twin], strict=True):
            assert Wa.dtype == Wb.dtype and np.array_equal(Wa, Wb)
            assert ba.dtype == bb.dtype and np.array_equal(ba, bb)


def test_same_seed_gives_identical_metrics_and_params(blobs: Any) -> None:
    first = run_training(tiny(), data=blobs)
    second = run_training(tiny(), data=blobs)
    assert without_seconds(first.metrics) == without_seconds(second.metrics)
    assert_params_identical(first.params, second.params)
    # The comparison can fail: another seed gives another run.
    other = run_training(tiny(seed=2), data=blobs)
    assert without_seconds(other.metrics) != without_seconds(first.metrics)


def test_every_epoch_reports_the_contract_keys_and_learns(blobs: Any) -> None:
    result = run_training(tiny(epochs=4), twins=("manual",), data=blobs)
    epochs = result.metrics["manual"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3, 4]
    for e in epochs:
        assert set(e) == EPOCH_KEYS
        assert 0 <= e["train_acc"] <= 1 and 0 <= e["test_acc"] <= 1
        assert e["seconds"] > 0
        assert e["lr"] == learning_rate("decay", 0.5, 0.1, e["epoch"] - 1)
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]
    assert epochs[-1]["test_acc"] > 0.9


def test_resume_after_interruption_equals_uninterrupted_run(blobs: Any, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tiny(epochs=4)
    uninterrupted = run_training(cfg, data=blobs, out_dir=tmp_path / "whole")

    # Ctrl-C in the middle of epoch 3 (step 2): epochs 1-2 must be what is saved.
    # Intercepted on the autodiff twin: the manual one trains through its workspace.
    real = autodiff.loss_and_grads
    calls = {"n": 0}
    steps_per_epoch = math.ceil(len(blobs.y_train) / (cfg.batch_size or len(blobs.y_train)))

    def interrupt_in_epoch_3(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2 * steps_per_epoch + 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(autodiff, "loss_and_grads", interrupt_in_epoch_3)
    with pytest.raises(TrainingInterrupted) as stop:
        run_training(cfg, data=blobs, out_dir=tmp_path / "cut")
    assert stop.value.completed_epochs == 2
    _, state = load_checkpoint(tmp_path / "cut" / CHECKPOINT_NAME)
    assert state["epoch"] == 2

    monkeypatch.setattr(autodiff, "loss_and_grads", real)
    resumed = run_training(cfg, data=blobs, out_dir=tmp_path / "cut", resume=True)
    assert_params_identical(resumed.params, uninterrupted.params)
    assert without_seconds(resumed.metrics) == without_seconds(uninterrupted.metrics)
    on_disk = json.loads((tmp_path / "cut" / METRICS_NAME).read_text())
    assert without_seconds(on_disk) == without_seconds(uninterrupted.metrics)


def test_ctrl_c_while_saving_an_epoch_still_leaves_that_epoch_saved(blobs: Any, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import compare.train.trainer as trainer
    real = trainer.save_checkpoint
    calls = {"n": 0}

    def interrupted_second_save(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(trainer, "save_checkpoint", interrupted_second_save)
    with pytest.raises(TrainingInterrupted) as stop:
        run_training(tiny(epochs=4), twins=("manual",), data=blobs, out_dir=tmp_path)
    assert stop.value.completed_epochs == 2
    assert load_checkpoint(tmp_path / CHECKPOINT_NAME)[1]["epoch"] == 2


def test_resume_of_a_run_stopped_before_its_first_epoch_starts_afresh(blobs: Any, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def stop_at_once(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(autodiff, "loss_and_grads", stop_at_once)
        with pytest.raises(TrainingInterrupted) as stop:
            run_training(tiny(), twins=("autodiff",), data=blobs, out_dir=tmp_path)
    assert stop.value.completed_epochs == 0
    resumed = run_training(tiny(), twins=("autodiff",), data=blobs, out_dir=tmp_path,
                           resume=True)
    straight = run_training(tiny(), twins=("autodiff",), data=blobs)
    assert_params_identical(resumed.params, straight.params)


def test_resume_can_extend_a_finished_run(blobs: Any, tmp_path: Path) -> None:
    run_training(tiny(epochs=2), twins=("manual",), data=blobs, out_dir=tmp_path)
    extended = run_training(tiny(epochs=4), twins=("manual",), data=blobs, out_dir=tmp_path,
                            resume=True)
    straight = run_training(tiny(epochs=4), twins=("manual",), data=blobs)
    assert_params_identical(extended.params, straight.params)
    assert without_seconds(extended.metrics) == without_seconds(straight.metrics)


def test_resume_with_other_options_is_refused(blobs: Any, tmp_path: Path) -> None:
    run_training(tiny(epochs=1), twins=("manual",), data=blobs, out_dir=tmp_path)
    with pytest.raises(ConfigError, match="lr"):
        run_training(tiny(epochs=2, lr=0.1), twins=("manual",), data=blobs, out_dir=tmp_path,
                     resume=True)
    with pytest.raises(ConfigError, match="autodiff"):
        run_training(tiny(epochs=2), twins=("autodiff",), data=blobs, out_dir=tmp_path,
                     resume=True)


def test_resume_with_another_schedule_names_the_schedule_whatever_the_epochs(
        blobs: Any, tmp_path: Path) -> None:
    # The saved schedule could not run 1000 epochs (its rate reaches 0): the
    # refusal must still be about the changed option, not about the saved one.
    run_training(tiny(epochs=1, schedule="exponential", decay=1.0), twins=("manual",),
                 data=blobs, out_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"other options \(schedule"):
        run_training(tiny(epochs=1000, decay=1.0), twins=("manual",), data=blobs,
                     out_dir=tmp_path, resume=True)


def test_huge_learning_rate_raises_divergence_error_naming_twin_epoch_and_step(blobs: Any) -> None:
    with pytest.raises(DivergenceError) as err:
        run_training(tiny(lr=1e200, activation="relu"), twins=("manual",), data=blobs)
    message = str(err.value)
    assert "manual" in message and "epoch 1" in message and "step" in message
    assert "--lr" in message and "\n" not in message


def test_nan_loss_names_the_twin_and_the_exact_step(blobs: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = autodiff.loss_and_grads
    calls = {"n": 0}

    def nan_on_third_call(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        loss, grads = real(*args, **kwargs)
        return (float("nan") if calls["n"] == 3 else loss), grads

    monkeypatch.setattr(autodiff, "loss_and_grads", nan_on_third_call)
    with pytest.raises(DivergenceError, match=r"autodiff twin .*epoch 1, step 3.*--lr 0\.05"):
        run_training(tiny(), data=blobs)


def test_lockstep_twins_agree_and_record_their_parameter_difference(blobs: Any) -> None:
    result = run_training(tiny(dtype="float64"), data=blobs)
    for twin in ("manual", "autodiff"):
        diffs = [e["max_param_diff"] for e in result.metrics[twin]]
        assert all(d <= 1e-10 for d in diffs)
    for m, a in zip(result.metrics["manual"], result.metrics["autodiff"], strict=True):
        assert m["max_param_diff"] == a["max_param_diff"]
        assert m["test_loss"] == pytest.approx(a["test_loss"], rel=1e-10)
    assert max_param_diff(result.params["manual"], result.params["autodiff"]) == diffs[-1]


def test_lockstep_difference_detects_a_twin_that_disagrees(blobs: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = autodiff.loss_and_grads

    def slightly_wrong(*args: Any, **kwargs: Any) -> Any:
        loss, grads = real(*args, **kwargs)
        return loss, [(1.001 * dW, db) for dW, db in grads]

    monkeypatch.setattr(autodiff, "loss_and_grads", slightly_wrong)
    result = run_training(tiny(), data=blobs)
    assert result.metrics["manual"][0]["max_param_diff"] > 1e-6


def test_single_twin_run_has_no_parameter_difference(blobs: Any) -> None:
    result = run_training(tiny(epochs=1), twins=("autodiff",), data=blobs)
    assert set(result.metrics) == {"autodiff"}
    assert set(result.metrics["autodiff"][0]) == EPOCH_KEYS


def count_steps(monkeypatch: pytest.MonkeyPatch, twin: str) -> list[int]:
    """Wrap ``twin.loss_and_grads`` to record every batch size it is given."""
    module = TWINS[twin]
    real = module.loss_and_grads
    sizes = []

    def counting(params: Params, X: np.ndarray, y: np.ndarray,
                 activation: str = "tanh") -> Any:
        sizes.append(len(y))
        return real(params, X, y, activation=activation)

    monkeypatch.setattr(module, "loss_and_grads", counting)
    return sizes


def test_batch_size_one_takes_one_step_per_example(blobs: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = count_steps(monkeypatch, "autodiff")
    result = run_training(tiny(batch_size=1, lr=0.05, epochs=1), data=blobs)
    assert sizes == [1] * len(blobs.y_train)
    for twin in ("manual", "autodiff"):
        assert result.metrics[twin][0]["test_acc"] > 0.5


def test_full_batch_takes_one_step_per_epoch(blobs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = count_steps(monkeypatch, "autodiff")
    run_training(tiny(batch_size=None, epochs=2), twins=("autodiff",), data=blobs)
    assert sizes == [len(blobs.y_train)] * 2


def test_float32_run_stays_float32(blobs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    real = autodiff.loss_and_grads

    def recording(params: Params, X: np.ndarray, y: np.ndarray,
                 activation: str = "tanh") -> Any:
        seen.append(X.dtype)
        return real(params, X, y, activation=activation)

    monkeypatch.setattr(autodiff, "loss_and_grads", recording)
    result = run_training(tiny(dtype="float32"), data=blobs)
    assert set(seen) == {np.dtype("float32")}
    for twin in ("manual", "autodiff"):
        assert all(W.dtype == np.float32 and b.dtype == np.float32
                   for W, b in result.params[twin])
        assert result.metrics[twin][-1]["test_acc"] > 0.9


def test_single_hidden_unit_and_deeper_networks_train(blobs: Any) -> None:
    one = run_training(tiny(hidden=(1,)), twins=("manual",), data=blobs)
    deep = run_training(tiny(hidden=(8, 5, 4)), twins=("manual",), data=blobs)
    assert [W.shape for W, _ in deep.params["manual"]] == [(12, 8), (8, 5), (5, 4), (4, 3)]
    assert np.isfinite(one.metrics["manual"][-1]["train_loss"])


@pytest.mark.parametrize("changes", [
    {"lr": 0}, {"lr": -0.1}, {"lr": float("nan")}, {"lr": float("inf")},
    {"batch_size": 0}, {"batch_size": -3}, {"epochs": 0}, {"hidden": ()}, {"hidden": (0,)},
    {"activation": "swish"}, {"init": "orthogonal"}, {"schedule": "cosine"},
    {"dataset": "cifar10"}, {"dtype": "float16"}, {"decay": -1.0},
    {"schedule": "step", "decay": 2.0}, {"batch_size": 50, "train_subset": 10},
])
def test_bad_config_values_raise_config_error(changes: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as err:
        tiny(**changes)
    assert "\n" not in str(err.value)


def test_batch_larger_than_the_training_set_is_refused(blobs: Any) -> None:
    with pytest.raises(ConfigError, match="larger than the 120 training examples"):
        run_training(tiny(batch_size=121), data=blobs)


def test_config_round_trips_through_a_dict() -> None:
    cfg = tiny(hidden=(7, 3), batch_size=None, schedule="step", decay=0.5)
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ConfigError, match="unknown config keys"):
        TrainConfig.from_dict({**cfg.to_dict(), "momentum": 0.9})


def test_defaults_are_the_papers_best_setting() -> None:
    cfg = TrainConfig()
    assert (cfg.activation, cfg.hidden, cfg.batch_size, cfg.schedule) == (
        "tanh", (100,), 250, "decay")
    assert cfg.decay > 0 and cfg.epochs <= 30


def test_schedules_follow_their_formulas() -> None:
    lr0, k = 0.8, 0.25
    for e in range(6):
        assert learning_rate("constant", lr0, k, e) == lr0
        assert learning_rate("decay", lr0, k, e) == pytest.approx(lr0 / (1 + k * e), rel=1e-15)
        assert learning_rate("exponential", lr0, k, e) == pytest.approx(lr0 * math.exp(-k * e))
    assert [learning_rate("step", 1.0, 0.5, e, step_every=2) for e in range(6)] == [
        1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    assert learning_rate("decay", lr0, k, 4) == pytest.approx(lr0 / 2)
    assert set(SCHEDULES) == {"constant", "decay", "exponential", "step"}
    with pytest.raises(ConfigError, match="unknown schedule"):
        learning_rate("cosine", lr0, k, 0)


def test_checkpoint_round_trips_without_pickle(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    params = {"manual": [(rng.random((4, 3)).astype(np.float32), np.zeros(3, np.float32))]}
    state = {"epoch": 5, "config": tiny().to_dict(), "metrics": {"manual": [{"lr": 0.1 + 0.2}]}}
    save_checkpoint(tmp_path / "c.npz", params, state)
    with np.load(tmp_path / "c.npz", allow_pickle=False) as npz:
        assert all(npz[key].dtype != object for key in npz.files)
    loaded, loaded_state = load_checkpoint(tmp_path / "c.npz")
    assert_params_identical(loaded, params)
    assert loaded_state["metrics"] == state["metrics"] and loaded_state["epoch"] == 5
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]  # no temporary left behind


def test_unreadable_checkpoint_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "c.npz").write_bytes(b"not a zip file")
    with pytest.raises(ConfigError, match="is not an .npz archive.*--force"):
        load_checkpoint(tmp_path / "c.npz")


def test_evaluation_in_chunks_equals_one_pass(blobs: Any) -> None:
    params = run_training(tiny(epochs=1), twins=("manual",), data=blobs).params["manual"]
    whole = evaluate(manual.forward, params, blobs.x_test, blobs.y_test, "tanh", chunk_rows=10**6)
    chunked = evaluate(manual.forward, params, blobs.x_test, blobs.y_test, "tanh", chunk_rows=7)
    assert chunked[1] == whole[1]
    assert chunked[0] == pytest.approx(whole[0], rel=1e-12)


def test_curves_are_redrawn_from_metrics_json_alone(blobs: Any, tmp_path: Path) -> None:
    run_training(tiny(epochs=2), data=blobs, out_dir=tmp_path)
    (tmp_path / CHECKPOINT_NAME).unlink()
    png = plot_run(tmp_path)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_progress_bar_stays_quiet_when_stderr_is_not_a_terminal(blobs: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    run_training(tiny(epochs=1), twins=("manual",), data=blobs, progress=True)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("batch_size", [1, 7, 50, None])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_every_registered_twin_trains_to_the_same_parameters(blobs: Any, batch_size: int | None,
        activation: str) -> None:
    """In lockstep, every twin of the registry ends an epoch within 1e-12 of the others."""
    cfg = tiny(epochs=1, batch_size=batch_size, activation=activation,
               lr=0.05 if batch_size == 1 else 0.5)
    result = run_training(cfg, twins=tuple(TWINS), data=blobs)
    assert set(result.params) == set(TWINS)
    assert result.metrics["manual"][0]["max_param_diff"] <= 1e-12
    assert len({m[0]["test_acc"] for m in result.metrics.values()}) == 1
    start = init_params([blobs.x_train.shape[1], *cfg.hidden, blobs.n_classes],
                        init=cfg.init, seed=cfg.seed)
    assert max_param_diff(start, result.params["buffered"]) > 1e-3      # it did train


@pytest.mark.parametrize("twin", sorted(TWINS))
def test_training_feels_a_twin_whose_gradients_are_zero(blobs: Any,
        monkeypatch: pytest.MonkeyPatch, twin: str) -> None:
    """What trains is the registered twin's loss_and_grads: break it, and nothing is learnt."""
    real = TWINS[twin].loss_and_grads

    def zero_gradients(params: Params, X: np.ndarray, y: np.ndarray,
                 activation: str = "tanh") -> Any:
        loss, grads = real(params, X, y, activation=activation)
        return loss, [(np.zeros_like(dW), np.zeros_like(db)) for dW, db in grads]

    monkeypatch.setattr(TWINS[twin], "loss_and_grads", zero_gradients)
    cfg = tiny(epochs=2)
    broken = run_training(cfg, twins=(twin,), data=blobs)
    start = init_params([blobs.x_train.shape[1], *cfg.hidden, blobs.n_classes],
                        init=cfg.init, seed=cfg.seed)
    assert_params_identical({twin: start}, broken.params)
    untrained = evaluate(TWINS[twin].forward, start, blobs.x_test, blobs.y_test, cfg.activation)
    assert broken.metrics[twin][-1]["test_acc"] == untrained[1]


def test_labels_outside_the_classes_are_refused(blobs: Any) -> None:
    bad = SimpleNamespace(**vars(blobs))
    bad.y_train = blobs.y_train.copy()
    bad.y_train[-1] = blobs.n_classes
    with pytest.raises(DataError, match=r"labels must lie in \[0, "):
        run_training(tiny(), twins=("buffered",), data=bad)
