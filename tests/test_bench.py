"""``twinprop bench`` on a tiny configuration: the JSON's structure, and that every
ratio and target is computed from the timings (no assertion on the times)."""

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from compare.bench import run as bench
from compare.bench.candidates import flops_per_sample
from compare.bench.report import format_table
from compare.bench.run import BenchConfig, run_bench
from compare.cli.app import main

TINY = ["--quick", "--samples", "600", "--steps", "20", "--repeats", "2"]
Results = dict[str, Any]
TinyRun = tuple[Results, Results, Path]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Results, Results, Path]:
    """Run the command once: (results printed with --json, results written to --out, table)."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("bench") / "bench.json"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = main(["bench", *TINY, "--json", "--out", str(out)])
    assert status == 0
    printed = json.loads(stdout.getvalue())
    return printed, json.loads(out.read_text()), out


@pytest.mark.slow
def test_json_printed_and_written_are_the_same_results(tiny_run: TinyRun) -> None:
    printed, written, out = tiny_run
    assert printed == written
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp file left


def test_json_has_every_configuration_and_candidate(tiny_run: TinyRun) -> None:
    results = tiny_run[0]
    assert results["schema"] == 1
    assert {(c["batch_size"], c["dtype"]) for c in results["configs"]} == {
        (250, "float64"), (250, "float32"), (1, "float64"), (1, "float32")}
    expected = {"manual", "buffered", "autodiff", "numpy_script"}
    if results["machine"]["torch"] is not None:
        expected.add("torch_eager")
        assert results["machine"]["torch"]["threads"] == results["machine"]["numpy_blas_threads"]
    else:
        assert "not installed" in results["machine"]["torch_note"]
    for config in results["configs"]:
        assert set(config["candidates"]) == expected
        for cand in config["candidates"].values():
            assert len(cand["seconds"]) == 2 and all(s > 0 for s in cand["seconds"])
            assert len(cand["rss_after_mb"]) == 2
    assert results["memory"]["peak_rss_mb"] > 0
    assert "synthetic" in results["data"]
    blas = results["machine"]["blas"]
    assert {"name", "version", "threads", "env"} <= set(blas)


def test_times_are_scaled_to_an_epoch_and_flops_counted_per_layer(tiny_run: TinyRun) -> None:
    for config in tiny_run[0]["configs"]:
        assert config["timed_samples"] * config["scale_to_epoch"] == pytest.approx(60_000)
        if config["batch_size"] == 1:
            assert config["timed_samples"] == 20
        # 784-100-10: the first layer's x W and x^T dz, the second's three products
        assert config["flops_per_epoch"] == 60_000 * 2 * (784 * 100 * 2 + 100 * 10 * 3)


def test_medians_ratios_and_targets_are_computed_from_the_timings(tiny_run: TinyRun) -> None:
    results = tiny_run[0]
    medians = {}
    for config in results["configs"]:
        limit = config["matmul_limit"]
        runs = {k: np.median(v["seconds"]) for k, v in limit["runs"].items()}
        assert limit["seconds"] == pytest.approx(min(runs.values()))
        assert limit["gflops"] == pytest.approx(config["flops_per_epoch"] / limit["seconds"] / 1e9)
        for name, cand in config["candidates"].items():
            assert cand["median"] == pytest.approx(np.median(cand["seconds"]))
            assert (cand["min"], cand["max"]) == (min(cand["seconds"]), max(cand["seconds"]))
            assert cand["ratio_to_limit"] == pytest.approx(cand["median"] / limit["seconds"])
            medians[(config["batch_size"], config["dtype"], name)] = cand["median"]
        medians[(config["batch_size"], config["dtype"], "matmul_limit")] = limit["seconds"]
        for key, value in config["ratios"].items():
            a, b = key.split("/")
            assert value == pytest.approx(config["candidates"][a]["median"]
                                          / config["candidates"][b]["median"])
    for target in results["targets"]:
        a, b = target["ratio"].split("/")
        key_a = (target["batch_size"], target["dtype"], a)
        key_b = (target["batch_size"], target["dtype"], b)
        if key_a not in medians or key_b not in medians:
            assert target["value"] is None and target["met"] is None
            continue
        assert target["value"] == pytest.approx(medians[key_a] / medians[key_b])
        config = next(c for c in results["configs"] if (c["batch_size"], c["dtype"])
                      == (target["batch_size"], target["dtype"]))
        paired = [x / y for x, y in zip(_seconds(config, a), _seconds(config, b))]
        assert target["per_repeat_range"] == pytest.approx([min(paired), max(paired)])
        holds = (target["value"] <= target["bound"] if target["comparison"] == "<="
                 else target["value"] >= target["bound"])
        assert target["met"] is holds


def _seconds(config: dict[str, Any], name: str) -> list[float]:
    limit = config["matmul_limit"]
    return (limit["runs"][limit["how"]]["seconds"] if name == "matmul_limit"
            else config["candidates"][name]["seconds"])


def test_table_shows_each_candidate_and_each_target_verdict(tiny_run: TinyRun) -> None:
    results = tiny_run[0]
    table = format_table(results)
    for config in results["configs"]:
        assert f"batch {config['batch_size']}, {config['dtype']}" in table
    for target in results["targets"]:
        line = next(line for line in table.splitlines() if target["text"] in line)
        verdict = {True: "[met   ]", False: "[MISSED]", None: "[n/a   ]"}[target["met"]]
        assert verdict in line
    assert "load average" in table and "peak resident" in table


def test_bench_without_torch_reports_its_targets_as_not_measured(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "torch_available", lambda: False)
    cfg = BenchConfig(batch_sizes=(1,), dtypes=("float64",), samples=100, steps=5, repeats=1)
    results = run_bench(cfg)
    (config,) = results["configs"]
    assert "torch_eager" not in config["candidates"]
    by_id = {t["id"]: t for t in results["targets"]}
    assert by_id["b1_f64_torch_over_buffered"]["met"] is None
    assert by_id["b250_f64_vs_limit"]["value"] is None          # batch 250 did not run
    assert "not measured" in format_table(results)


def test_flops_count_three_products_per_layer_but_two_for_the_first() -> None:
    assert flops_per_sample([784, 100, 10]) == 2 * (784 * 100 * 2 + 100 * 10 * 3)
    assert flops_per_sample([5, 4, 3, 2]) == 2 * (5 * 4 * 2 + 4 * 3 * 3 + 3 * 2 * 3)


def test_too_few_samples_for_the_batch_is_a_one_line_error(capsys: pytest.CaptureFixture) -> None:
    status = main(["bench", "--quick", "--samples", "100", "--repeats", "1", "--no-torch"])
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("twinprop: error: --samples 100") and "Traceback" not in err[-1]


def test_table_warns_when_other_work_shared_the_cpus(tiny_run: TinyRun) -> None:
    import copy

    results = copy.deepcopy(tiny_run[0])
    m = results["machine"]
    m["load_average_before"] = [3.5, 2.0, 1.0]      # the last minute's work, not this run's
    m["other_cpus_during_run"], m["stolen_cpus_during_run"] = 0.05, 0.0
    assert "warning" not in format_table(results)
    m["other_cpus_during_run"] = 0.8
    assert f"warning: other work took 0.80 of {m['cpu_count']} CPUs" in format_table(results)
    m["other_cpus_during_run"], m["stolen_cpus_during_run"] = 0.0, 0.5
    assert "the hypervisor stole 0.50" in format_table(results)
    # without the CPUs' counters, the load average before the run decides
    m["other_cpus_during_run"] = m["stolen_cpus_during_run"] = None
    assert "warning: the machine was busy (load 3.50" in format_table(results)
    m["load_average_before"] = [0.2, 0.3, 0.4]
    assert "warning" not in format_table(results)


def test_other_work_is_the_machine_s_busy_time_less_this_process_s(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from compare.bench import machine as bench_machine

    clock = {"wall": 100.0, "own": 5.0, "machine": (1000.0, 20.0)}
    monkeypatch.setattr(bench_machine.time, "perf_counter", lambda: clock["wall"])
    monkeypatch.setattr(bench_machine.time, "process_time", lambda: clock["own"])
    monkeypatch.setattr(bench_machine, "_machine_cpu_seconds", lambda: clock["machine"])
    others = bench_machine.OtherWork()
    # 2 s of wall time: this process used 3 CPU-s, the machine 3.8, 0.5 stolen
    clock.update(wall=102.0, own=8.0, machine=(1003.8, 20.5))
    assert others.stop() == pytest.approx({"other_cpus_during_run": 0.4,
                                           "stolen_cpus_during_run": 0.25})
    monkeypatch.setattr(bench_machine, "_machine_cpu_seconds", lambda: None)
    assert bench_machine.OtherWork().stop() == {"other_cpus_during_run": None,
                                                "stolen_cpus_during_run": None}


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs the kernel's CPU counters")
def test_the_kernel_s_counters_are_read() -> None:
    from compare.bench.machine import _machine_cpu_seconds

    counters = _machine_cpu_seconds()
    assert counters is not None
    busy, stolen = counters
    assert busy > 0 and stolen >= 0


def test_markdown_tables_are_redrawn_from_the_saved_results(tiny_run: TinyRun,
                                                          capsys: pytest.CaptureFixture) -> None:
    results, _, out = tiny_run
    assert main(["bench", "--markdown", str(out), str(out)]) == 0
    text = capsys.readouterr().out
    threads = results["machine"]["numpy_blas_threads"]
    assert f"each cell is {threads} BLAS thread" in text
    other = results["machine"]["other_cpus_during_run"]
    runs = [line for line in text.splitlines() if line.startswith(f"- {threads} BLAS thread")]
    assert len(runs) == 2 and all(f"other work during the timed runs: {other:.2f} CPUs" in line
                                  for line in runs)
    for config in results["configs"]:
        fast = f"{config['candidates']['buffered']['median']:.3g}"
        row = next(line for line in text.splitlines()
                   if line.startswith(f"| batch {config['batch_size']}, {config['dtype']} |"))
        assert row.split(" | ")[1] == f"{fast} / {fast}"
    for target in results["targets"]:
        row = next(line for line in text.splitlines() if line.startswith(f"| {target['text']}"))
        if target["value"] is not None:
            low, high = target["per_repeat_range"]
            assert f"{target['value']:.2f} (" in row and f"; {low:.2f}-{high:.2f} per repeat" in row
            if target["at_matmul_limit"] is not None:
                assert f"; at the matmul limit {target['at_matmul_limit']:.2f})" in row


def test_markdown_refuses_a_file_that_is_not_bench_results(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    other = tmp_path / "profile.json"
    other.write_text(json.dumps({"command": "twinprop bench --profile-autodiff"}))
    assert main(["bench", "--markdown", str(other)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not the results of 'twinprop bench'" in err
    assert "give --markdown the files 'twinprop bench --out FILE' wrote" in err


# Each bad option: (arguments, words the one-line error must hold). The timing
# functions are replaced by ones that fail, so a check that came too late (or
# not at all) shows as a failure here, not as a long run.
BAD_OPTIONS = [
    (["--samples", "500000"], "--samples 500000 is outside 1..60,000"),
    (["--samples", "100"], "--samples 100 is below the batch size 250"),
    (["--repeats", "1000"], "--repeats 1000 is outside 1..100; give 1 to 100"),
    (["--repeats", "0"], "0 must be a positive whole number"),
    (["--threads", "4096"], "--threads 4096 is outside 1.."),
    (["--batch-sizes", "250", "250"], "--batch-sizes 250 250 repeats a size"),
    (["--batch-sizes", "100000"], "--samples 15000 is below the batch size 100000"),
    (["--steps", "70000"], "--steps 70000 is outside 1..15000"),
    (["--dtypes", "float64", "float64"], "--dtypes float64 float64"),
    (["--markdown", "a.json", "--out", "b.json"], "leave out --out and --json"),
    (["--profile-autodiff", "--samples", "100"], "--samples is not used by --profile-autodiff"),
    (["--profile-autodiff", "--batch-sizes", "5000"], "more than an epoch (60,000)"),
    (["--profile-autodiff", "--repeats", "500"], "--repeats 500 is outside 1..100; give 1 to"),
    (["--profile-autodiff", "--threads", "4096"], "--threads 4096 is outside 1.."),
]


@pytest.fixture
def nothing_is_timed(monkeypatch: pytest.MonkeyPatch) -> None:
    from compare.cli import bench as bench_cli

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("timing started before the options were checked")

    monkeypatch.setattr(bench_cli, "time_bench", refuse)
    monkeypatch.setattr(bench_cli, "profile_autodiff", refuse)


@pytest.mark.parametrize("argv, words", BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_every_option_is_checked_before_timing_in_one_line(
        argv: list[str], words: str, nothing_is_timed: None,
        capsys: pytest.CaptureFixture) -> None:
    try:
        status = main(["bench", "--quick", *argv])
    except SystemExit as exit_:            # argparse's own checks (types, choices) exit
        status = exit_.code
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("twinprop") and "error:" in err and words in err


SAVED = Path(__file__).resolve().parent.parent / "docs" / "bench-results" / "threads1.json"


@pytest.mark.parametrize("argv", [["--threads", "99"], ["--repeats", "7"], ["--quick"],
                                  ["--no-torch"], ["--dtypes", "float32"]])
def test_markdown_refuses_an_option_it_does_not_use(argv: list[str], nothing_is_timed: None,
                                                     capsys: pytest.CaptureFixture) -> None:
    # --markdown times nothing: these options were ignored (exit 0), an invalid
    # value (--threads 99) among them, while --profile-autodiff refuses the
    # options it does not use.
    assert main(["bench", "--markdown", str(SAVED), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("twinprop: error: ")
    assert f"{argv[0]} is not used by --markdown" in err and "leave it out" in err


@pytest.mark.parametrize("where", ["a folder", "under a file", "read-only folder"])
def test_an_unusable_out_is_refused_before_timing(where: str, tmp_path: Path,
                                                  nothing_is_timed: None,
                                                  capsys: pytest.CaptureFixture) -> None:
    if where == "a folder":
        out = tmp_path
    elif where == "under a file":
        (tmp_path / "file").write_text("x")
        out = tmp_path / "file" / "bench.json"
    else:
        if os.geteuid() == 0:
            pytest.skip("root may write into any folder")
        folder = tmp_path / "ro"
        folder.mkdir(mode=0o500)
        out = folder / "bench.json"
    for mode in ([], ["--profile-autodiff"]):
        assert main(["bench", "--quick", *mode, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("twinprop: error: --out")


def test_the_ratio_at_the_matmul_limit_replaces_the_twin_by_the_limit(tiny_run: TinyRun) -> None:
    results = tiny_run[0]
    by_key = {(c["batch_size"], c["dtype"]): c for c in results["configs"]}
    checked = 0
    for target in results["targets"]:
        a, b = target["ratio"].split("/")
        if target["value"] is None or not {a, b} & {"numpy_script", "torch_eager"}:
            assert target["at_matmul_limit"] is None
            continue
        config = by_key[(target["batch_size"], target["dtype"])]
        limit, medians = config["matmul_limit"]["seconds"], config["candidates"]
        expected = (limit / medians[b]["median"] if a == "buffered"
                    else medians[a]["median"] / limit)
        assert target["at_matmul_limit"] == pytest.approx(expected)
        checked += 1
    assert checked >= 2


def test_blas_threads_are_set_and_read_through_threadpoolctl() -> None:
    from threadpoolctl import threadpool_info

    from compare.bench import blas

    before = blas.blas_threads()
    assert before is not None
    assert before == max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
    try:
        assert blas.set_blas_threads(1) is True
        assert blas.blas_threads() == 1
        assert blas.blas_info()["threads"] == 1
    finally:
        blas.set_blas_threads(before)
    assert blas.blas_threads() == before


class NoBlas:
    """threadpoolctl's controller where no BLAS library can be found or limited."""

    lib_controllers: list = []

    def select(self, **kwargs: Any) -> "NoBlas":
        return self

    def info(self) -> list:
        return []

    def limit(self, **kwargs: Any) -> None:
        raise AssertionError("nothing to limit")


def test_no_controllable_blas_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from compare.bench import blas
    from compare.common.errors import ConfigError

    monkeypatch.setattr(blas, "ThreadpoolController", NoBlas)
    assert blas.blas_threads() is None and blas.blas_info()["core"] is None
    blas.require_blas_threads(None)                  # nothing asked: nothing to refuse
    with pytest.raises(ConfigError, match="could not set numpy's BLAS to 2 threads"):
        blas.require_blas_threads(2)


def test_candidates_take_the_batches_in_slices_in_turn_each_batch_once() -> None:
    calls = []
    runs = {name: (lambda part, name=name: calls.append((name, [int(i[0]) for i in part])))
            for name in ("a", "b", "c")}
    setup: dict[str, Any] = {"runs": runs, **{key: {name: [] for name in runs}
                              for key in ("times", "cpu", "rss_after", "rss_delta")}}
    batches = [np.array([i]) for i in range(40)]
    bench._time_in_slices(setup, batches, 2.0)
    assert len(calls) == 3 * bench.SLICES
    for name in runs:
        seen = [i for who, part in calls if who == name for i in part]
        assert seen == list(range(40))                 # every batch once, in order
    firsts = [calls[3 * s][0] for s in range(bench.SLICES)]
    assert firsts[:3] == ["a", "b", "c"]               # the order rotates
    assert all(len(setup["times"][name]) == 1 and setup["times"][name][0] >= 0 for name in runs)


DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_docs_state_every_target_in_words_as_the_bench_does() -> None:
    from compare.bench.targets import TARGETS

    text = (DOCS / "bench.md").read_text()
    section = text.split("## The targets", 1)[1].split("\n## ", 1)[0]
    listed = [line[2:] for line in section.splitlines() if line.startswith("- ")]
    assert listed == [t.text for t in TARGETS]


def test_the_docs_results_are_the_markdown_of_the_saved_results_files() -> None:
    from compare.bench.markdown import load_results, markdown_tables

    text = (DOCS / "bench.md").read_text()
    block = text.split("<!-- bench-results:start -->", 1)[1].split("<!-- bench-results:end -->")[0]
    files = sorted(str(p) for p in (DOCS / "bench-results").glob("*.json"))
    assert files, "docs/bench-results/ holds no saved results"
    assert block.strip() == markdown_tables(load_results(files)).strip()


def test_a_blas_that_cannot_take_the_threads_is_one_line_before_the_header(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    # The bench printed its header line ("twinprop bench: 4 configurations x
    # ...") before it set the BLAS threads, so this refusal was a second line.
    from compare.bench import blas

    monkeypatch.setattr(blas, "ThreadpoolController", NoBlas)
    assert main(["bench", *TINY, "--no-torch", "--threads", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "could not set numpy's BLAS to 1 threads" in err
