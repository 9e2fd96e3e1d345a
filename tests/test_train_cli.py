"""``twinprop train`` / ``compare`` / ``plot``: run folders, exit statuses, one-line errors.

Most tests swap compare.data.load.load_dataset for a small synthetic data set so
they run in seconds; one trains briefly on a subset of the real MNIST.
"""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_trainer import make_blobs, without_seconds

import autodiff
import compare.cli.train
import compare.data.load
import compare.train.config
from compare.cli.app import build_parser, main
from compare.cli.train import _config_and_twins, no_better_than_chance
from compare.train.checkpoint import load_checkpoint
from compare.train.config import DataSizes
from compare.train.trainer import TrainConfig
from compare.twins import TWINS

TINY = ["--hidden", "6", "--batch-size", "16", "--epochs", "2", "--seed", "1"]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[Any, str, str]:
    """Run the CLI in-process; return (exit status, stdout, stderr)."""
    code: Any
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse usage errors exit from inside parse_args
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def use_blobs(patch: pytest.MonkeyPatch) -> Any:
    """Make every CLI data load return the synthetic blobs (120 train, 40 test).

    The CLI checks options and run folders against the catalog's sizes
    before loading the data, so the blobs' sizes stand in for the catalog's too.
    """
    data = make_blobs()
    sizes = DataSizes(len(data.y_train), len(data.y_test), data.x_train.shape[1],
                      data.n_classes)
    patch.setattr(compare.data.load, "load_dataset", lambda **kwargs: data)
    patch.setattr(compare.cli.train, "catalog_sizes", lambda name: sizes)
    patch.setattr(compare.train.config, "catalog_sizes", lambda name: sizes)
    return data


@pytest.fixture
def blobs(monkeypatch: pytest.MonkeyPatch) -> Any:
    return use_blobs(monkeypatch)


def test_train_writes_config_metrics_checkpoint_and_curves(blobs: Any, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code, stdout, _ = run_cli(["train", *TINY, "--out", str(out)], capsys)
    assert code == 0
    assert {p.name for p in out.iterdir()} == {
        "config.json", "metrics.json", "checkpoint.npz", "curves.png"}
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics) == ["buffered"]                    # the default twin
    assert [e["epoch"] for e in metrics["buffered"]] == [1, 2]
    assert set(metrics["buffered"][0]) == {
        "epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds", "lr"}
    config = json.loads((out / "config.json").read_text())
    assert config["twins"] == ["buffered"] and config["config"]["hidden"] == [6]
    assert "epoch   2/2" in stdout and "test accuracy" in stdout


def test_compare_records_every_twin_and_their_parameter_difference(blobs: Any, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp"
    code, _, _ = run_cli(["compare", *TINY, "--out", str(out), "--quiet"], capsys)
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics) == list(TWINS)
    for twin in metrics:
        assert all(0 <= e["max_param_diff"] <= 1e-10 for e in metrics[twin])


def test_compare_takes_the_twins_it_is_given(blobs: Any, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp"
    code, _, _ = run_cli(["compare", *TINY, "--twins", "autodiff,manual", "--out", str(out),
                          "--quiet"], capsys)
    assert code == 0
    assert list(json.loads((out / "metrics.json").read_text())) == ["autodiff", "manual"]
    code, _, err = run_cli(["compare", *TINY, "--twins", "manual,jax", "--quiet",
                            "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and "unknown twin 'jax'" in err and err.count("\n") == 1


def test_train_autodiff_twin_alone(blobs: Any, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run_cli(["train", "--twin", "autodiff", *TINY, "--out", str(tmp_path / "a"),
                          "--quiet"], capsys)
    assert code == 0
    assert list(json.loads((tmp_path / "a" / "metrics.json").read_text())) == ["autodiff"]


@pytest.mark.parametrize("bad", [
    ["--lr", "0"], ["--lr", "-0.1"], ["--lr", "nan"], ["--batch-size", "0"],
    ["--batch-size", "121"], ["--batch-size", "lots"], ["--activation", "swish"],
    ["--init", "orthogonal"], ["--dataset", "cifar10"], ["--epochs", "0"],
    ["--hidden", "0"], ["--schedule", "cosine"], ["--dtype", "float16"],
])
def test_bad_options_exit_2_with_one_line(bad: list[str], blobs: Any, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["train", *TINY, *bad, "--out", str(tmp_path / "r"), "--quiet"],
                           capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("twinprop") and "Traceback" not in err


def test_divergence_exits_1_with_one_line_suggesting_a_lower_rate(blobs: Any, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["train", *TINY, "--activation", "relu", "--lr", "1e200",
                            "--out", str(tmp_path / "r"), "--quiet"], capsys)
    assert code == 1
    assert err.count("\n") == 1 and "diverged" in err and "--lr 1e+199" in err


def test_existing_out_is_never_overwritten_without_force(blobs: Any, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert run_cli(["train", *TINY, "--out", str(out), "--quiet"], capsys)[0] == 0
    before = (out / "metrics.json").read_bytes()
    code, _, err = run_cli(["train", *TINY, "--lr", "0.1", "--out", str(out), "--quiet"], capsys)
    assert code == 2 and "--force" in err and err.count("\n") == 1
    assert (out / "metrics.json").read_bytes() == before
    (out / "notes.txt").write_text("mine")
    code, _, _ = run_cli(["train", *TINY, "--lr", "0.1", "--out", str(out), "--force",
                          "--quiet"], capsys)
    assert code == 0 and (out / "metrics.json").read_bytes() != before
    assert (out / "notes.txt").read_text() == "mine"  # --force removes only run files


@pytest.mark.slow
def test_ctrl_c_saves_exits_cleanly_and_resume_finishes_the_same_run(blobs: Any, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert run_cli(["compare", *TINY, "--epochs", "3", "--out", str(whole), "--quiet"],
                   capsys)[0] == 0

    real = autodiff.loss_and_grads
    calls = {"n": 0}

    def interrupt_in_epoch_2(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 10:  # 8 steps per epoch: step 2 of epoch 2
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(autodiff, "loss_and_grads", interrupt_in_epoch_2)
        code, _, err = run_cli(["compare", *TINY, "--epochs", "3", "--out", str(cut),
                                "--quiet"], capsys)
    assert code == 130 and err.count("\n") == 1
    assert f"--resume --out {cut}" in err and "1 completed epoch" in err

    code, _, _ = run_cli(["compare", "--resume", "--out", str(cut), "--quiet"], capsys)
    assert code == 0
    def metrics(run: Path) -> dict[str, list[dict[str, Any]]]:
        return without_seconds(json.loads((run / "metrics.json").read_text()))
    assert metrics(cut) == metrics(whole)
    with np.load(cut / "checkpoint.npz") as a, np.load(whole / "checkpoint.npz") as b:
        assert all(np.array_equal(a[k], b[k]) for k in a.files if k.startswith(tuple(TWINS)))


def test_resume_with_a_changed_option_exits_2(blobs: Any, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert run_cli(["train", *TINY, "--out", str(out), "--quiet"], capsys)[0] == 0
    code, _, err = run_cli(["train", "--resume", "--lr", "0.01", "--out", str(out)], capsys)
    assert code == 2 and "lr" in err and err.count("\n") == 1


def test_plot_redraws_curves_from_metrics_only(blobs: Any, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert run_cli(["compare", *TINY, "--out", str(out), "--quiet"], capsys)[0] == 0
    (out / "curves.png").unlink()
    (out / "checkpoint.npz").unlink()
    code, stdout, _ = run_cli(["plot", str(out)], capsys)
    assert code == 0 and (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    code, _, err = run_cli(["plot", str(tmp_path / "nowhere")], capsys)
    assert code == 2 and err.count("\n") == 1


def test_hidden_repeats_and_full_batch(blobs: Any, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code, _, err = run_cli(["train", "--hidden", "8", "--hidden", "5", "--batch-size", "full",
                            "--epochs", "5", "--out", str(out), "--quiet"], capsys)
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["hidden"] == [8, 5] and config["batch_size"] is None


def test_options_left_out_give_the_papers_best_setting(tmp_path: Path) -> None:
    args = build_parser().parse_args(["train"])
    cfg, twins = _config_and_twins(args, "train", tmp_path)
    assert cfg == TrainConfig() and twins == ("buffered",)
    assert (cfg.activation, cfg.hidden, cfg.batch_size, cfg.schedule) == (
        "tanh", (100,), 250, "decay")


@pytest.mark.network
@pytest.mark.slow
def test_train_on_a_slice_of_real_mnist_learns(tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    compare.data.load.load_dataset("mnist", quiet=True)  # fetched into the cache if missing
    out = tmp_path / "mnist"
    code, _, _ = run_cli(["train", "--train-subset", "2000", "--test-subset", "500",
                          "--batch-size", "50", "--epochs", "2", "--out", str(out), "--quiet"],
                         capsys)
    assert code == 0
    last = json.loads((out / "metrics.json").read_text())["buffered"][-1]
    assert last["test_acc"] > 0.8


def test_a_run_no_better_than_chance_exits_1_and_keeps_its_epochs(blobs: Any, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A huge rate can leave a finite but useless network: exit 1, every epoch saved."""
    hot = tmp_path / "hot"
    code, stdout, err = run_cli(["train", *TINY, "--activation", "relu", "--lr", "1e4",
                                 "--out", str(hot), "--quiet"], capsys)
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert "above chance level" in err and "try --lr 1000" in err
    assert "test accuracy after 2 epochs" in stdout
    params, state = load_checkpoint(hot / "checkpoint.npz")
    assert state["epoch"] == 2 and len(json.loads((hot / "metrics.json").read_text())[
        "buffered"]) == 2
    assert (hot / "curves.png").read_bytes()[:4] == b"\x89PNG"

    code, _, err = run_cli(["train", *TINY, "--epochs", "1", "--out", str(tmp_path / "ok"),
                            "--quiet"], capsys)
    assert code == 0 and err == ""


def test_chance_is_the_uniform_loss_or_the_most_common_class() -> None:
    cfg = TrainConfig(lr=2.0)
    y = np.array([0, 0, 0, 1, 2, 0, 1, 0])               # class 0 is 5/8 = 62.5%

    def metrics(loss: float, acc: float) -> dict[str, list[dict[str, Any]]]:
        return {"manual": [{"train_loss": loss, "train_acc": acc}]}

    assert no_better_than_chance(metrics(0.5, 0.9), cfg, y, 3) is None
    above = no_better_than_chance(metrics(np.log(3), 0.9), cfg, y, 3)
    assert above is not None and "above chance level (log 3 = 1.10)" in above
    assert "--lr 0.2" in above
    flat = no_better_than_chance(metrics(0.9, 0.625), cfg, y, 3)
    assert flat is not None and "most common class (62.50%)" in flat
    assert no_better_than_chance(metrics(0.9, 0.626), cfg, y, 3) is None


def test_a_rejected_run_leaves_the_previous_run_in_out_untouched(blobs: Any, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """--force must not cost the old run when the new one is refused before training."""
    out = tmp_path / "run"
    assert run_cli(["train", *TINY, "--out", str(out), "--quiet"], capsys)[0] == 0
    before = {f.name: f.read_bytes() for f in out.iterdir()}
    code, _, err = run_cli(["train", *TINY, "--batch-size", "100000", "--out", str(out),
                            "--force", "--quiet"], capsys)
    assert code == 2 and "larger than the" in err
    assert {f.name: f.read_bytes() for f in out.iterdir()} == before

    fresh = tmp_path / "fresh"
    assert run_cli(["train", *TINY, "--batch-size", "100000", "--out", str(fresh),
                    "--quiet"], capsys)[0] == 2
    assert not fresh.exists()


@pytest.mark.parametrize("error, status, line", [
    (PermissionError(13, "Permission denied", "/some/file"), 1,
     "twinprop: error: Permission denied: /some/file\n"),
    (MemoryError(), 1, "twinprop: error: out of memory; try a smaller network or batch\n"),
])
def test_what_no_check_foresaw_is_still_one_line(error: BaseException, status: int, line: str,
                                                 tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(args: Any) -> int:
        raise error

    monkeypatch.setattr(compare.cli.train, "run_plot", failing)
    code, _, err = run_cli(["plot", str(tmp_path)], capsys)
    assert (code, err) == (status, line)
