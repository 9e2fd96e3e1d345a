"""``twinprop bench --profile-autodiff``: the split of an autodiff step, on a tiny network.

No assertion on times: only that the rules are found and named, that the
derived numbers are computed from the measured ones, and that autograd is
left exactly as it was (and computes the same gradients while timed).
"""

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import autograd.core as core
import numpy as np
import pytest

import autodiff
from compare.bench.autograd_profile import (
    ACCUMULATE,
    ProfileConfig,
    profile_autodiff,
    timed_rules,
)
from compare.cli.app import main

TINY = ProfileConfig(sizes=(12, 6, 3), batch_size=8, steps=3, repeats=2)


@pytest.fixture(scope="module")
def profile() -> dict[str, Any]:
    return profile_autodiff(TINY)


def test_every_rule_of_the_step_is_timed_and_named(profile: dict[str, Any]) -> None:
    names = {rule["primitive"] for rule in profile["rules"]}
    assert {"matmul", "tanh", "clip", "add"} <= names
    matmul = next(rule for rule in profile["rules"] if rule["primitive"] == "matmul")
    assert matmul["calls_per_step"] == 2        # one product per layer (none for the data)
    assert all(rule["ms"] >= 0 for rule in profile["rules"])
    assert [r["ms"] for r in profile["rules"]] == sorted((r["ms"] for r in profile["rules"]),
                                                         reverse=True)


def test_derived_numbers_come_from_the_measured_ones(profile: dict[str, Any]) -> None:
    rules = sum(rule["ms"] for rule in profile["rules"])
    assert profile["rules_ms"] == pytest.approx(rules)
    assert profile["floor_ms"] == pytest.approx(profile["forward_ms"] + rules)
    assert profile["tracing_and_bookkeeping_ms"] == pytest.approx(
        profile["autodiff_ms"] - profile["floor_ms"])
    manual = profile["buffered_ms"]
    assert profile["ratios"]["floor/buffered"] == pytest.approx(profile["floor_ms"] / manual)
    assert profile["target"]["met"] == (profile["autodiff_ms"] / manual <= 1.3)
    assert profile["nodes_per_step"] == sum(r["calls_per_step"] for r in profile["rules"])
    assert profile["overhead_per_node_us"] == pytest.approx(
        profile["tracing_and_bookkeeping_ms"] / profile["nodes_per_step"] * 1e3)
    assert profile["overhead_allowed_ms"] == pytest.approx(1.3 * manual - profile["floor_ms"])
    assert profile["bare_tracing_per_node_us"] > 0
    assert profile["lowest_ms"] == pytest.approx(
        profile["floor_ms"] + profile["nodes_per_step"] * profile["bare_tracing_per_node_us"] / 1e3)
    assert profile["target"]["lowest_within_bound"] == (profile["lowest_ms"] / manual <= 1.3)
    assert profile["buffered_ms"] == pytest.approx(np.median(profile["times_ms"]["buffered"]))


def test_autograd_is_restored_and_computes_the_same_gradients_while_timed() -> None:
    makers, add = dict(core.primitive_vjps), core.add_outgrads
    rng = np.random.default_rng(0)
    params = [(rng.standard_normal((5, 4)), rng.standard_normal(4)),
              (rng.standard_normal((4, 3)), rng.standard_normal(3))]
    X, y = rng.standard_normal((6, 5)), rng.integers(0, 3, 6)
    plain = autodiff.loss_and_grads(params, X, y, "sigmoid")
    seconds: defaultdict[str, float] = defaultdict(float)
    calls: Counter[str] = Counter()
    with timed_rules(seconds, calls):
        timed = autodiff.loss_and_grads(params, X, y, "sigmoid")
    assert calls[ACCUMULATE] > 0 and calls["logaddexp"] == 1
    assert timed[0] == plain[0]
    for a, b in zip(timed[1], plain[1]):
        for x, z in zip(a, b):
            np.testing.assert_array_equal(x, z)
    assert core.primitive_vjps == makers and core.add_outgrads is add
    with pytest.raises(RuntimeError):
        with timed_rules(seconds, calls):
            raise RuntimeError("a failing step")
    assert core.primitive_vjps == makers and core.add_outgrads is add


def test_cli_prints_json_and_writes_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "profile.json"
    status = main(["bench", "--profile-autodiff", "--quick", "--steps", "2", "--repeats", "1",
                   "--dtypes", "float32", "--json", "--out", str(out)])
    assert status == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    (profile,) = printed["profiles"]
    assert profile["config"]["dtype"] == "float32" and profile["config"]["batch_size"] == 250
    assert "malloc" in printed["machine"]
    # The profile refuses --no-torch, so the note may not blame it for PyTorch's absence.
    assert printed["machine"]["torch"] is None
    assert printed["machine"]["torch_note"] == ("PyTorch not run: --profile-autodiff times "
                                                "the autodiff and buffered twins only")
