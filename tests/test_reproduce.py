"""twinprop reproduce: cache keys, reuse, damage, resumption, N twins, the report, a quick run."""

import json
import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from compare.cli.app import main
from compare.common.errors import DivergenceError
from compare.reproduce import figures as F
from compare.reproduce import runner
from compare.reproduce.cache import (
    METRICS_NAME,
    RunCache,
    load_params,
    params_name,
    run_key,
    save_params,
)
from compare.reproduce.mdhtml import to_html
from compare.reproduce.options import Options, usable_cores
from compare.reproduce.pipeline import reproduce
from compare.reproduce.report import Reproduction, write_report
from compare.reproduce.soundness import DamagedRun
from compare.train.config import TrainConfig, catalog_sizes
from compare.twins import TWINS, Params

PAIR = ("manual", "autodiff")
ALL = tuple(TWINS)
# What CountingRun adds to each twin's accuracy, so the twins differ by known amounts.
OFFSETS = {"manual": 0.0, "buffered": 0.02, "autodiff": -0.03}


def tiny(**changes: Any) -> TrainConfig:
    return TrainConfig(**{"activation": "tanh", "hidden": (4,), "epochs": 2,
                          "train_subset": 20, "test_subset": 10, "batch_size": 5, **changes})


class CountingRun:
    """A stand-in for the trainer: made-up metrics and well-shaped params; counts its calls.

    ``fail_on`` makes that call (1-based) raise KeyboardInterrupt, like Ctrl-C.
    """

    def __init__(self, fail_on: int | None = None) -> None:
        self.calls: list[TrainConfig] = []
        self.fail_on = fail_on

    def __call__(self, config: TrainConfig, twins: tuple[str, ...],
                 data_dir: Path | None) -> SimpleNamespace:
        self.calls.append(config)
        if len(self.calls) == self.fail_on:
            raise KeyboardInterrupt
        acc = 0.5 + 0.01 * config.seed + config.lr / 100
        # The fields the trainer records (max_param_diff only when twins run in lockstep).
        diff = {"max_param_diff": 1e-12} if len(twins) > 1 else {}
        metrics = {t: [{"epoch": e + 1, "test_acc": acc + OFFSETS[t], "train_acc": acc,
                        "train_loss": 1.0, "test_loss": 1.0, "lr": config.lr, "seconds": 0.1,
                        **diff}
                       for e in range(config.epochs)] for t in twins}
        rng = np.random.default_rng(config.seed)
        data = catalog_sizes(config.dataset)
        sizes = [data.n_features, *config.hidden, data.n_classes]
        params = {t: [(rng.normal(size=(a, b)), np.zeros(b)) for a, b in zip(sizes, sizes[1:])]
                  for t in twins}
        return SimpleNamespace(metrics=metrics, params=params)


def runs_of(configs: list[TrainConfig]) -> list[F.Run]:
    return [F.Run("2", f"run {i}", c.seed, c) for i, c in enumerate(configs)]


def quiet(line: str) -> None:
    pass


def exit_status(argv: list[str]) -> int:
    """What ``twinprop ARGV`` exits with, whether argparse or the command refuses it."""
    try:
        return main(argv)
    except SystemExit as stop:
        return int(stop.code or 0)


def test_cache_key_is_stable_and_differs_across_configs_and_twins() -> None:
    cfg = tiny()
    again = TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert run_key(cfg, PAIR) == run_key(again, PAIR) == run_key(tiny(), PAIR)
    assert re.fullmatch(r"[0-9a-f]{16}", run_key(cfg, PAIR))
    others = [tiny(lr=0.1), tiny(seed=1), tiny(hidden=(5,)), tiny(epochs=3),
              tiny(train_subset=30), tiny(init="he")]
    keys = {run_key(c, PAIR) for c in [cfg, *others]}
    assert len(keys) == 1 + len(others)
    twin_keys = {run_key(cfg, t) for t in [("manual",), PAIR, ALL, ("buffered", "autodiff")]}
    assert len(twin_keys) == 4


def test_cache_key_ignores_the_order_of_config_fields() -> None:
    cfg = tiny()
    shuffled = SimpleNamespace(to_dict=lambda: dict(reversed(list(cfg.to_dict().items()))))
    assert run_key(shuffled, PAIR) == run_key(cfg, PAIR)  # type: ignore[arg-type]


def test_params_round_trip_through_npz_without_pickle(tmp_path: Path) -> None:
    params: Params = [(np.arange(6.0).reshape(2, 3), np.ones(3)), (np.eye(3), np.zeros(3))]
    save_params(tmp_path / "p.npz", params)
    back = load_params(tmp_path / "p.npz")
    assert all(np.array_equal(a, b) for la, lb in zip(params, back) for a, b in zip(la, lb))
    assert [f.name for f in tmp_path.iterdir()] == ["p.npz"]  # no temp file left


def test_cached_run_is_reused_not_retrained(tmp_path: Path) -> None:
    configs = [tiny(), tiny(seed=1), tiny(lr=0.2)]
    # The same configuration used by two figures trains once.
    runs = runs_of(configs) + [F.Run("4", "again", 0, tiny())]
    fake = CountingRun()
    first = runner.run_all(runs, RunCache(tmp_path), ALL, jobs=1, run_fn=fake, log=quiet)
    assert len(fake.calls) == 3
    second_fake, lines = CountingRun(), list[str]()
    second = runner.run_all(runs, RunCache(tmp_path), ALL, jobs=1, run_fn=second_fake,
                            log=lines.append)
    assert second_fake.calls == []
    assert "3 cached, 0 to train" in lines[0]
    for key, outcome in first.items():
        assert second[key].metrics == outcome.metrics
        for twin in ALL:
            for (W1, b1), (W2, b2) in zip(outcome.params[twin], second[key].params[twin]):
                assert np.array_equal(W1, W2) and np.array_equal(b1, b2)
    # Runs of other twins are other cache entries.
    pair_fake = CountingRun()
    runner.run_all(runs, RunCache(tmp_path), PAIR, jobs=1, run_fn=pair_fake, log=quiet)
    assert len(pair_fake.calls) == 3


def test_interrupted_sweep_resumes_with_the_missing_runs_only(tmp_path: Path) -> None:
    configs = [tiny(seed=s) for s in range(5)]
    interrupted = CountingRun(fail_on=3)
    with pytest.raises(KeyboardInterrupt):
        runner.run_all(runs_of(configs), RunCache(tmp_path), PAIR, jobs=1, run_fn=interrupted,
                       log=quiet)
    # A run folder left without metrics.json (killed mid-write) is not a finished run.
    half = RunCache(tmp_path).folder(run_key(configs[4], PAIR))
    half.mkdir(parents=True)
    (half / "config.json").write_text("{}")
    resumed = CountingRun()
    outcomes = runner.run_all(runs_of(configs), RunCache(tmp_path), PAIR, jobs=1,
                              run_fn=resumed, log=quiet)
    assert len(resumed.calls) == 3
    assert {c.seed for c in resumed.calls} == {c.seed for c in configs} - {
        c.seed for c in interrupted.calls[:2]}
    assert len(outcomes) == 5 and all(o.ok for o in outcomes.values())


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _edit_metrics(change: Any) -> Any:
    def damage(folder: Path) -> None:
        done = json.loads((folder / METRICS_NAME).read_text())
        change(done)
        (folder / METRICS_NAME).write_text(json.dumps(done))
    return damage


def _wrong_shape(folder: Path) -> None:
    save_params(folder / params_name("buffered"), [(np.zeros((784, 5)), np.zeros(5)),
                                                   (np.zeros((5, 10)), np.zeros(10))])


def _wrong_dtype(folder: Path) -> None:
    params = load_params(folder / params_name("manual"))
    save_params(folder / params_name("manual"), [(W.astype(np.float32), b) for W, b in params])


def _nan_params(folder: Path) -> None:
    params = load_params(folder / params_name("manual"))
    params[0][0][0, 0] = np.nan
    save_params(folder / params_name("manual"), params)


DAMAGE = {
    "truncated metrics.json": lambda folder: _truncate(folder / METRICS_NAME),
    "truncated params": lambda folder: _truncate(folder / params_name("autodiff")),
    "missing params": lambda folder: (folder / params_name("manual")).unlink(),
    "params of the wrong shape": _wrong_shape,
    "params of the wrong dtype": _wrong_dtype,
    "NaN in the params": _nan_params,
    "metrics.json a list": lambda folder: (folder / METRICS_NAME).write_text("[]"),
    "a twin missing": _edit_metrics(lambda d: d["metrics"].pop("buffered")),
    "an epoch missing": _edit_metrics(lambda d: d["metrics"]["manual"].pop()),
    "an accuracy of 7": _edit_metrics(lambda d: d["metrics"]["manual"][0].update(test_acc=7)),
    "a string for seconds": _edit_metrics(
        lambda d: d["metrics"]["autodiff"][1].update(seconds="x")),
    "an unknown status": _edit_metrics(lambda d: d.update(status="done")),
    "no wall_seconds": _edit_metrics(lambda d: d.pop("wall_seconds")),
    "another run's config.json": lambda folder: (folder / "config.json").write_text(
        json.dumps({"cache_version": 1, "twins": ["manual"], "config": {}})),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_cache_entry_is_retrained_never_used(tmp_path: Path, damage: str) -> None:
    cfg = tiny()
    fresh = runner.run_all(runs_of([cfg]), RunCache(tmp_path), ALL, jobs=1,
                           run_fn=CountingRun(), log=quiet)
    folder = RunCache(tmp_path).folder(run_key(cfg, ALL))
    DAMAGE[damage](folder)
    with pytest.raises(DamagedRun):
        RunCache(tmp_path).load(cfg, ALL)
    again, lines = CountingRun(), list[str]()
    outcomes = runner.run_all(runs_of([cfg]), RunCache(tmp_path), ALL, jobs=1, run_fn=again,
                              log=lines.append)
    assert len(again.calls) == 1
    assert "is damaged (" in lines[0] and "training it again" in lines[0]
    assert "0 cached, 1 to train" in lines[1]
    key = run_key(cfg, ALL)
    assert outcomes[key].metrics == fresh[key].metrics
    # Retrained and whole again: the next run reuses it.
    assert RunCache(tmp_path).load(cfg, ALL) is not None


def test_a_diverged_run_is_cached_as_diverged(tmp_path: Path) -> None:
    def diverging(config: TrainConfig, twins: tuple[str, ...], data_dir: Path | None) -> None:
        raise DivergenceError("the manual twin diverged")
    out = runner.run_all(runs_of([tiny()]), RunCache(tmp_path), PAIR, jobs=1,
                         run_fn=diverging, log=quiet)
    (outcome,) = out.values()
    assert outcome.status == "diverged" and "diverged" in outcome.message
    cached = RunCache(tmp_path).load(tiny(), PAIR)
    assert cached is not None and cached.status == "diverged"


def test_longer_runs_are_ordered_first() -> None:
    table = {r.label: r.config for r in F.plan(F.FIGURE_NUMBERS, F.FULL)}
    batch1, batch250 = table["batch 1"], table["batch 250"]
    assert F.relative_cost(batch1) > F.relative_cost(batch250)
    widths = [F.relative_cost(table[F.hidden_label(h)]) for h in F.FULL.hidden_sweep]
    assert widths == sorted(widths)


def test_n_twins_reach_figures_lockstep_table_and_claims(tmp_path: Path) -> None:
    html = reproduce(Options(figures=("2", "4"), quick=True, twins=ALL, out=tmp_path, jobs=1),
                     run_fn=CountingRun(), log=quiet)
    folder = html.parent
    fig4 = json.loads((folder / "figures" / "fig4.json").read_text())
    assert set(fig4["series"][0]["twins"]) == set(ALL)
    gap = max(OFFSETS.values()) - min(OFFSETS.values())
    for series in fig4["series"]:
        assert series["largest_difference"]["test_acc"]["mean"] == pytest.approx(
            [gap] * F.QUICK.epochs["4"])
    report = (folder / "report.md").read_text()
    lockstep = report.split("## The twins in lockstep")[1].split("##")[0]
    rows = [line for line in lockstep.splitlines() if line.startswith("| 2/4 |")]
    assert rows and all(f"| {100 * gap:.3f} |" in row for row in rows)
    assert all(line.count("|") == 11 for line in lockstep.splitlines() if line.startswith("|"))
    claims = json.loads((folder / "claims.json").read_text())
    decay = next(c for c in claims if "decaying learning rate" in c["paper"])
    assert all(f"{t}: " in decay["measured"] for t in ALL)


def test_report_html_embeds_images_and_renders_tables(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    fig.savefig(tmp_path / "a.png")
    plt.close(fig)
    markdown = ("# T\n\n| a | b |\n|---|---|\n| `x` | **y** \\| z |\n\n![fig](a.png)\n\n"
                "[data](a.json) <script>x</script>\n")
    page = to_html(markdown, tmp_path, "T")
    assert 'src="data:image/png;base64,' in page
    assert re.search(r"<td><code>x</code></td>\s*<td><strong>y</strong> \| z</td>", page)
    assert "&lt;script&gt;" in page
    assert_self_contained(page)


def test_a_missing_image_is_said_not_linked(tmp_path: Path) -> None:
    page = to_html("![fig](gone.png)\n\n![secret](../../etc/passwd)\n", tmp_path, "T")
    assert page.count("[image not found:") == 2
    assert "src=" not in page


def test_a_line_starting_with_a_pipe_is_a_table_only_above_a_rule() -> None:
    page = to_html("|x - y| is small\n\n| a | b |\n|---|---|\n| 1 | 2 |\n", ".", "T")
    assert "<p>|x - y| is small</p>" in page
    assert page.count("<table>") == 1
    assert re.search(r"<td>1</td>\s*<td>2</td>", page)


def test_report_includes_the_derivatives_study_when_present(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt
    study = tmp_path / "derivatives"
    study.mkdir()
    (study / "summary.md").write_text("# Derivatives\n\nhand and autograd agree to 1e-16\n")
    fig, ax = plt.subplots()
    fig.savefig(study / "vcurves.png")
    plt.close(fig)
    rep = Reproduction("quick", "tiny", 1, PAIR, "twinprop reproduce", [], [], [], [],
                       derivatives=study)
    md, html = write_report(rep, tmp_path / "quick")
    text = md.read_text()
    assert "### Derivatives" in text and "agree to 1e-16" in text
    assert "](../derivatives/summary.md)" in text
    page = html.read_text()
    assert page.count("data:image/png;base64,") == 1
    assert_self_contained(page)


def assert_self_contained(page: str) -> None:
    """No src, link or script that would fetch anything from outside the page."""
    sources = re.findall(r'\bsrc="([^"]*)"', page)
    assert sources and all(s.startswith("data:") for s in sources)
    assert "<script" not in page and "<link" not in page and "url(" not in page
    assert not re.search(r"https?://", page)


@pytest.mark.network
@pytest.mark.slow
@pytest.mark.slow
def test_reproduce_quick_runs_end_to_end_and_a_rerun_only_redraws(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    args = ["reproduce", "--quick", "--train-subset", "300", "--test-subset", "200",
            "--epochs", "1", "--jobs", str(min(2, usable_cores())), "--out", str(out)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert re.search(r"(\d+) configurations: 0 cached, \1 to train", err)
    report = out / "custom"
    page = (report / "report.html").read_text()
    assert_self_contained(page)
    assert page.count("<table>") == 3  # claims, lockstep, runs
    pngs = sorted((report / "figures").glob("*.png"))
    assert {p.stem for p in pngs} >= {f"fig{n}" for n in F.FIGURE_NUMBERS}
    for png in pngs:
        assert png.with_suffix(".json").is_file() and png.with_suffix(".csv").is_file()
    assert page.count("data:image/png;base64,") == len(pngs)
    claims = json.loads((report / "claims.json").read_text())
    assert len(claims) == 11 and {c["verdict"] for c in claims} <= {
        "reproduced", "not reproduced"}
    # Figure 7's matrix, computed from the cached params, matches the trainer's accuracy.
    fig7 = json.loads((report / "figures" / "fig7.json").read_text())
    fig6 = json.loads((report / "figures" / "fig6.json").read_text())
    tanh = next(s for s in fig6["series"] if s["label"] == "tanh, N(0,1)")
    assert set(fig7["twins"]) == set(ALL)
    for twin in ALL:
        matrix = np.array(fig7["twins"][twin]["matrix"])
        assert matrix.sum() == 200
        assert np.trace(matrix) / 200 == pytest.approx(tanh["twins"][twin]["test_acc"]["mean"][-1])
    before = (report / "figures" / "fig2.json").read_text()
    assert main(args) == 0
    assert re.search(r"(\d+) configurations: \1 cached, 0 to train", capsys.readouterr().err)
    assert (report / "figures" / "fig2.json").read_text() == before


# Every option out of its domain: refused in one line, exit 2, before any training.
REFUSED = {
    "--figure 8": (["--figure", "8"], "invalid choice"),
    "--twins unknown": (["--twins", "manual,nope"], "unknown twin 'nope'"),
    "--twins twice": (["--twins", "manual,manual"], "distinct twins"),
    "--twins empty": (["--twins", ""], "argument --twins: the value is empty"),
    "--seeds 0": (["--seeds", "0"], "positive whole number"),
    "--seeds too many": (["--seeds", "101"], "--seeds 101 is out of range"),
    "--seeds not a number": (["--seeds", "two"], "not a whole number"),
    "--jobs 0": (["--jobs", "0"], "positive whole number"),
    "--jobs beyond the cores": (["--jobs", "100000"], "--jobs 100000 is out of range"),
    "--epochs 0": (["--epochs", "0"], "positive whole number"),
    "--epochs too many": (["--epochs", "1001"], "--epochs 1001 is out of range"),
    "--train-subset beyond the data": (["--train-subset", "60001"], "60,000 images"),
    "--test-subset beyond the data": (["--test-subset", "10001"], "10,000 images"),
    "--train-subset below a batch": (["--train-subset", "100"], "smaller than the batch"),
    "--scheduler without a port": (["--scheduler", "tcp://localhost"], "HOST:PORT"),
    "--scheduler bare host": (["--scheduler", "localhost"], "HOST:PORT"),
    "--scheduler a word": (["--scheduler", "whose"],
                           "; give the scheduler's address, e.g. tcp://SCHEDULER-HOST:8786"),
    "--scheduler port 0": (["--scheduler", "localhost:0"], "HOST:PORT"),
    "--scheduler port too big": (["--scheduler", "tcp://localhost:70000"], "HOST:PORT"),
    "--scheduler port not a number": (["--scheduler", "tcp://localhost:eight"], "HOST:PORT"),
    "--scheduler no host": (["--scheduler", "tcp://:8786"], "HOST:PORT"),
    "--scheduler a path": (["--scheduler", "tcp://localhost:8786/x"], "HOST:PORT"),
    "--scheduler a web address": (["--scheduler", "http://localhost:8786"],
                                  "unknown protocol 'http'"),
    "--data-dir missing": (["--data-dir", "{tmp}/nowhere"], "is not a folder"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_an_option_out_of_its_domain_is_one_line_before_any_training(
        case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    def no_training(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("training started")
    monkeypatch.setattr(runner, "run_all", no_training)
    extra, message = REFUSED[case]
    out = tmp_path / "out"
    argv = ["reproduce", "--out", str(out), *[a.format(tmp=tmp_path) for a in extra]]
    assert exit_status(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("twinprop") and message in err, err
    assert not out.exists()


def test_an_out_folder_under_a_file_is_refused_and_the_file_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(runner, "run_all", lambda *a, **k: pytest.fail("training started"))
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    assert main(["reproduce", "--quick", "--out", str(blocker / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "which is a file" in err
    assert blocker.read_text() == "keep me"


def test_an_unwritable_out_folder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    # Root writes into any folder, so the test says the folder is read-only.
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: (
        Path(path) != locked and real_access(path, mode)))
    monkeypatch.setattr(runner, "run_all", lambda *a, **k: pytest.fail("training started"))
    assert main(["reproduce", "--quick", "--out", str(locked / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not writable" in err


@pytest.mark.parametrize("blocked", ["runs", "quick"])
def test_a_file_where_the_run_writes_is_refused_up_front(
        blocked: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(runner, "run_all", lambda *a, **k: pytest.fail("training started"))
    (tmp_path / blocked).write_text("keep me")
    assert main(["reproduce", "--quick", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{blocked} is a file" in err
    assert (tmp_path / blocked).read_text() == "keep me"


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "127.0.0.1:8786",
                                     "tls://scheduler.example:1", "[::1]:8786",
                                     "tcp://[::1]:65535", "ucx://node-3:13337"])
def test_well_formed_scheduler_addresses_pass(address: str) -> None:
    from compare.reproduce.options import check_scheduler_address
    assert check_scheduler_address(address) == address
