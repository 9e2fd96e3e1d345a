"""twinprop reproduce: cache keys, reuse, resumption, the report, and a whole quick run."""

import json
import re
from types import SimpleNamespace

import numpy as np
import pytest

from compare.cli.app import main
from compare.reproduce import figures as F
from compare.reproduce import runner
from compare.reproduce.cache import RunCache, load_params, run_key, save_params
from compare.reproduce.mdhtml import to_html
from compare.train.trainer import TrainConfig

TWINS = ("manual", "autodiff")


def tiny(**changes):
    return TrainConfig(**{"activation": "tanh", "hidden": (4,), "epochs": 2,
                          "train_subset": 20, "test_subset": 10, "batch_size": 5, **changes})


class CountingRun:
    """A stand-in for the trainer: made-up metrics and params; counts its calls.

    ``fail_on`` makes that call (1-based) raise KeyboardInterrupt, like Ctrl-C.
    """

    def __init__(self, fail_on=None):
        self.calls, self.fail_on = [], fail_on

    def __call__(self, config, twins, data_dir):
        self.calls.append(config)
        if len(self.calls) == self.fail_on:
            raise KeyboardInterrupt
        acc = 0.5 + 0.1 * config.seed + config.lr / 100
        metrics = {t: [{"epoch": e + 1, "test_acc": acc, "train_acc": acc, "seconds": 0.1}
                       for e in range(config.epochs)] for t in twins}
        rng = np.random.default_rng(config.seed)
        params = {t: [(rng.normal(size=(3, 2)), np.zeros(2))] for t in twins}
        return SimpleNamespace(metrics=metrics, params=params)


def runs_of(configs):
    return [F.Run("2", f"run {i}", c.seed, c) for i, c in enumerate(configs)]


def test_cache_key_is_stable_and_differs_across_configs():
    cfg = tiny()
    again = TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert run_key(cfg, TWINS) == run_key(again, TWINS) == run_key(tiny(), TWINS)
    assert re.fullmatch(r"[0-9a-f]{16}", run_key(cfg, TWINS))
    others = [tiny(lr=0.1), tiny(seed=1), tiny(hidden=(5,)), tiny(epochs=3),
              tiny(train_subset=30), tiny(init="he")]
    keys = {run_key(c, TWINS) for c in [cfg, *others]}
    assert len(keys) == 1 + len(others)
    assert run_key(cfg, ("manual",)) != run_key(cfg, TWINS)


def test_cache_key_ignores_the_order_of_config_fields():
    cfg = tiny()
    shuffled = SimpleNamespace(to_dict=lambda: dict(reversed(list(cfg.to_dict().items()))))
    assert run_key(shuffled, TWINS) == run_key(cfg, TWINS)


def test_params_round_trip_through_npz_without_pickle(tmp_path):
    params = [(np.arange(6.0).reshape(2, 3), np.ones(3)), (np.eye(3), np.zeros(3))]
    save_params(tmp_path / "p.npz", params)
    back = load_params(tmp_path / "p.npz")
    assert all(np.array_equal(a, b) for la, lb in zip(params, back) for a, b in zip(la, lb))
    assert [f.name for f in tmp_path.iterdir()] == ["p.npz"]  # no temp file left


def test_cached_run_is_reused_not_retrained(tmp_path):
    configs = [tiny(), tiny(seed=1), tiny(lr=0.2)]
    # The same configuration used by two figures trains once.
    runs = runs_of(configs) + [F.Run("4", "again", 0, tiny())]
    fake = CountingRun()
    first = runner.run_all(runs, RunCache(tmp_path), TWINS, jobs=1, run_fn=fake, log=lambda s: None)
    assert len(fake.calls) == 3
    second_fake, lines = CountingRun(), []
    second = runner.run_all(runs, RunCache(tmp_path), TWINS, jobs=1, run_fn=second_fake,
                            log=lines.append)
    assert second_fake.calls == []
    assert "3 cached, 0 to train" in lines[0]
    for key, outcome in first.items():
        assert second[key].metrics == outcome.metrics
        for twin in TWINS:
            for (W1, b1), (W2, b2) in zip(outcome.params[twin], second[key].params[twin]):
                assert np.array_equal(W1, W2) and np.array_equal(b1, b2)


def test_interrupted_sweep_resumes_with_the_missing_runs_only(tmp_path):
    configs = [tiny(seed=s) for s in range(5)]
    interrupted = CountingRun(fail_on=3)
    with pytest.raises(KeyboardInterrupt):
        runner.run_all(runs_of(configs), RunCache(tmp_path), TWINS, jobs=1, run_fn=interrupted,
                       log=lambda s: None)
    # A run folder left without metrics.json (killed mid-write) is not a finished run.
    half = RunCache(tmp_path).folder(run_key(configs[4], TWINS))
    half.mkdir(parents=True)
    (half / "config.json").write_text("{}")
    resumed = CountingRun()
    outcomes = runner.run_all(runs_of(configs), RunCache(tmp_path), TWINS, jobs=1,
                              run_fn=resumed, log=lambda s: None)
    assert len(resumed.calls) == 3
    assert {c.seed for c in resumed.calls} == {c.seed for c in configs} - {
        c.seed for c in interrupted.calls[:2]}
    assert len(outcomes) == 5 and all(o.ok for o in outcomes.values())


def test_a_diverged_run_is_cached_as_diverged(tmp_path):
    from compare.common.errors import DivergenceError

    def diverging(config, twins, data_dir):
        raise DivergenceError("the manual twin diverged")
    out = runner.run_all(runs_of([tiny()]), RunCache(tmp_path), TWINS, jobs=1,
                         run_fn=diverging, log=lambda s: None)
    (outcome,) = out.values()
    assert outcome.status == "diverged" and "diverged" in outcome.message
    assert RunCache(tmp_path).load(tiny(), TWINS).status == "diverged"


def test_quick_runs_fit_the_budget_and_full_runs_the_stated_hour():
    def wall_minutes(scale):
        configs = {run_key(r.config, TWINS): r.config for r in F.plan(F.FIGURE_NUMBERS, scale)}
        return F.estimate_wall_seconds(configs.values(), jobs=2) / 60
    assert wall_minutes(F.QUICK) < 3
    assert 30 < wall_minutes(F.FULL) < 75


def test_report_html_embeds_images_and_references_nothing_outside(tmp_path):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    fig.savefig(tmp_path / "a.png")
    plt.close(fig)
    markdown = "# T\n\n| a | b |\n|---|---|\n| `x` | **y** |\n\n![fig](a.png)\n\n[data](a.json)\n"
    page = to_html(markdown, tmp_path, "T")
    assert 'src="data:image/png;base64,' in page
    assert_self_contained(page)


def test_a_line_starting_with_a_pipe_is_a_table_only_above_a_rule():
    page = to_html("|x - y| is small\n\n| a | b |\n|---|---|\n| 1 | 2 |\n", ".", "T")
    assert "<p>|x - y| is small</p>" in page
    assert page.count("<table>") == 1 and "<td>1</td><td>2</td>" in page


def test_report_includes_the_derivatives_study_when_present(tmp_path):
    import matplotlib.pyplot as plt

    from compare.reproduce.report import Reproduction, write_report
    study = tmp_path / "derivatives"
    study.mkdir()
    (study / "summary.md").write_text("# Derivatives\n\nhand and autograd agree to 1e-16\n")
    fig, ax = plt.subplots()
    fig.savefig(study / "vcurves.png")
    plt.close(fig)
    rep = Reproduction("quick", "tiny", 1, TWINS, "twinprop reproduce", [], [], [], [],
                       derivatives=study)
    md, html = write_report(rep, tmp_path / "quick")
    text = md.read_text()
    assert "### Derivatives" in text and "agree to 1e-16" in text
    assert "](../derivatives/summary.md)" in text
    page = html.read_text()
    assert page.count("data:image/png;base64,") == 1
    assert_self_contained(page)


def assert_self_contained(page):
    """No src, link or script that would fetch anything from outside the page."""
    sources = re.findall(r'\bsrc="([^"]*)"', page)
    assert sources and all(s.startswith("data:") for s in sources)
    assert "<script" not in page and "<link" not in page and "url(" not in page
    assert not re.search(r"https?://", page)


def test_reproduce_quick_runs_end_to_end_and_a_rerun_only_redraws(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["reproduce", "--quick", "--train-subset", "300", "--test-subset", "200",
            "--epochs", "1", "--jobs", "2", "--out", str(out)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert re.search(r"(\d+) configurations: 0 cached, \1 to train", err)
    report = out / "custom"
    page = (report / "report.html").read_text()
    assert_self_contained(page)
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
    for twin in TWINS:
        matrix = np.array(fig7["twins"][twin]["matrix"])
        assert matrix.sum() == 200
        assert np.trace(matrix) / 200 == pytest.approx(tanh["twins"][twin]["test_acc"]["mean"][-1])
    before = (report / "figures" / "fig2.json").read_text()
    assert main(args) == 0
    assert re.search(r"(\d+) configurations: \1 cached, 0 to train", capsys.readouterr().err)
    assert (report / "figures" / "fig2.json").read_text() == before
