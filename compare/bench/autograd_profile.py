"""Where the autodiff twin's training step spends its time, rule by rule.

``twinprop bench --profile-autodiff`` splits one step of the autodiff twin
(``autodiff.loss_and_grads``) into

* its forward pass, run on plain arrays (untraced: what the arithmetic of the
  forward pass costs by itself);
* autograd's derivative rules (the VJP of each primitive the step applies),
  each timed where autograd calls it;
* the rest: tracing the forward pass, autograd's bookkeeping (of which
  adding up the gradients of a value used twice is timed on its own) and
  the SGD update W -= lr dW.

and sets it beside the buffered twin's step (``manual.buffered``). The
*floor*, forward pass plus rules, is what an autodiff step would cost if
tracing and bookkeeping were free; its ratio to the manual step says how
close autograd's own derivative rules can come without a hand-written one.
The *lowest* adds, for each node of the step, autograd's bare cost of a node
(measured on 3-element arrays, where no arithmetic counts): the least an
autograd step of this shape can cost.

The rules are timed by wrapping every entry of ``autograd.core.primitive_vjps``
and ``autograd.core.add_outgrads`` for the instrumented runs only, and put back
afterwards; plain and instrumented runs alternate, and the step and forward
times come from the plain ones.
"""

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from compare.bench.candidates import fresh_params
from compare.bench.config import EPOCH_SAMPLES, check_dtype_name, check_repeats
from compare.bench.run import synthetic_data
from compare.bench.targets import target
from compare.common.errors import ConfigError

# The goal the profile is read against: autodiff / buffered at batch 250, float64.
TARGET_RATIO = target("b250_f64_autodiff_vs_buffered").bound


@dataclass(frozen=True)
class ProfileConfig:
    """One profiled network: ``steps`` SGD steps per timed run, ``repeats`` runs."""

    sizes: tuple[int, ...] = (784, 100, 10)
    activation: str = "tanh"
    batch_size: int = 250
    dtype: str = "float64"
    steps: int = 40
    repeats: int = 5
    lr: float = 0.01
    seed: int = 0


def check_profile_config(cfg: ProfileConfig) -> None:
    """Refuse a profile outside its domain, before anything is timed.

    Its data is ``batch_size * steps`` samples, at most an epoch.

    Raises:
        ConfigError: one line naming the setting and the way out.
    """
    check_repeats(cfg.repeats)
    check_dtype_name(cfg.dtype)
    if cfg.batch_size < 1 or cfg.steps < 1:
        raise ConfigError(f"batch size {cfg.batch_size} and --steps {cfg.steps} must both be "
                          "at least 1")
    if cfg.batch_size * cfg.steps > EPOCH_SAMPLES:
        raise ConfigError(f"batch {cfg.batch_size} x --steps {cfg.steps} = "
                          f"{cfg.batch_size * cfg.steps:,} samples, more than an epoch "
                          f"({EPOCH_SAMPLES:,}); give fewer --steps or a smaller batch")


def _autograd_core() -> Any:
    """autograd.core, checked for the two hooks the profile wraps."""
    import autograd.core as core

    if not (isinstance(getattr(core, "primitive_vjps", None), dict)
            and callable(getattr(core, "add_outgrads", None))):
        raise ConfigError("this autograd has no core.primitive_vjps / core.add_outgrads to "
                          "time; the profile needs autograd 1.6 to 1.9 (pip install "
                          "'autograd>=1.6,<2')")
    return core


@contextmanager
def timed_rules(seconds: defaultdict[str, float], calls: Counter[str]) -> Iterator[None]:
    """Time every VJP autograd evaluates, and every gradient accumulation, while open.

    Args:
        seconds: defaultdict(float), primitive name -> total seconds (added to).
        calls: Counter, primitive name -> number of rule evaluations (added to).
            Accumulation is counted under ``ACCUMULATE``.
    """
    core = _autograd_core()
    makers, add_outgrads = dict(core.primitive_vjps), core.add_outgrads

    def wrap(name: str, maker: Callable[..., Any]) -> Callable[..., Any]:
        def make(argnums: Any, ans: Any, args: Any, kwargs: Any) -> Callable[[Any], Any]:
            vjp = maker(argnums, ans, args, kwargs)

            def timed(g: Any) -> tuple[Any, ...]:
                start = time.perf_counter()
                grads = tuple(vjp(g))       # some rules return generators: run them here
                seconds[name] += time.perf_counter() - start
                calls[name] += 1
                return grads
            return timed
        return make

    def timed_add(prev: Any, g: Any) -> Any:
        start = time.perf_counter()
        out = add_outgrads(prev, g)
        seconds[ACCUMULATE] += time.perf_counter() - start
        calls[ACCUMULATE] += 1
        return out

    try:
        for fun, maker in makers.items():
            core.primitive_vjps[fun] = wrap(getattr(fun, "__name__", repr(fun)), maker)
        core.add_outgrads = timed_add
        yield
    finally:
        core.primitive_vjps.clear()
        core.primitive_vjps.update(makers)
        core.add_outgrads = add_outgrads


ACCUMULATE = "(accumulating gradients)"


def tracing_cost_per_node_us(nodes: int = 20, repeats: int = 200) -> float:
    """autograd's own cost of one node, traced and differentiated, on a 3-element array.

    The arrays are too small for any arithmetic to matter: what is left is
    what autograd spends per primitive (boxing, recording, calling the rule).
    Returns microseconds (the best of 5 timings of ``repeats`` gradients).
    """
    import autograd.numpy as anp
    from autograd import value_and_grad

    def chain(x: Any) -> Any:
        for _ in range(nodes - 1):
            x = x * 1.000001
        return anp.sum(x)

    x = np.ones(3)
    gradient = value_and_grad(chain)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            gradient(x)
        best = min(best, time.perf_counter() - start)
    return best / repeats / nodes * 1e6


def profile_autodiff(cfg: ProfileConfig, say: Callable[[str], None] | None = None,
                     per_node_us: float | None = None) -> dict[str, Any]:
    """Profile one configuration; return a JSON-ready dict (times in ms per step).

    Args:
        cfg: ProfileConfig.
        say: optional callable(str) for progress lines.
        per_node_us: autograd's bare cost of a node (:func:`tracing_cost_per_node_us`,
            the same for every configuration), or None to measure it here.
    Returns:
        dict: ``config``; ``buffered_ms``, ``autodiff_ms``, ``forward_ms``
        (medians over repeats); ``rules`` (name, calls per step, ms per step;
        largest first), ``rules_ms``, ``accumulate_ms``, ``floor_ms``,
        ``tracing_and_bookkeeping_ms``; ``ratios`` to the buffered twin;
        ``target``.
    Raises:
        ConfigError: the configuration is outside its domain (check_profile_config).
    """
    from compare.train.sgd import SGD
    from compare.twins import get_twin

    check_profile_config(cfg)
    say = say or (lambda message: None)
    sizes = list(cfg.sizes)
    X, y = synthetic_data(cfg.batch_size * cfg.steps, sizes[0], sizes[-1], cfg.dtype, cfg.seed)
    batches = np.arange(len(y)).reshape(cfg.steps, cfg.batch_size)
    buffered_params = fresh_params(sizes, cfg.dtype, cfg.seed)
    auto_params = fresh_params(sizes, cfg.dtype, cfg.seed)
    buffered, autodiff = SGD(get_twin("buffered"), cfg.activation), get_twin("autodiff")
    stepper = SGD(autodiff, cfg.activation)             # as the trainer steps it

    def buffered_run() -> None:
        for idx in batches:
            buffered.step(buffered_params, X[idx], y[idx], cfg.lr)

    def autodiff_run() -> None:
        for idx in batches:
            stepper.step(auto_params, X[idx], y[idx], cfg.lr)

    def forward_run() -> None:
        for idx in batches:
            autodiff.loss(auto_params, X[idx], y[idx], cfg.activation)  # type: ignore[attr-defined]

    runs = {"buffered": buffered_run, "autodiff": autodiff_run, "forward": forward_run}
    times: dict[str, list[float]] = {name: [] for name in runs}
    seconds: defaultdict[str, float] = defaultdict(float)
    calls: Counter[str] = Counter()
    for run in runs.values():
        run()                                            # warm-up: buffers, caches
    for repeat in range(cfg.repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - start) / cfg.steps * 1e3)
        with timed_rules(seconds, calls):
            autodiff_run()
        say(f"{cfg.dtype}, batch {cfg.batch_size}: repeat {repeat + 1}/{cfg.repeats}")

    per_step = cfg.repeats * cfg.steps
    ms = {name: seconds[name] / per_step * 1e3 for name in seconds}
    accumulate = ms.pop(ACCUMULATE, 0.0)
    rules: list[dict[str, Any]] = sorted(
        ({"primitive": name, "calls_per_step": calls[name] / per_step, "ms": value}
         for name, value in ms.items()), key=lambda r: -r["ms"])
    medians = {name: float(np.median(values)) for name, values in times.items()}
    rules_ms = sum(ms.values())
    floor = medians["forward"] + rules_ms
    manual = medians["buffered"]
    nodes = sum(rule["calls_per_step"] for rule in rules)   # one rule call per traced node
    overhead = medians["autodiff"] - floor
    per_node = tracing_cost_per_node_us() if per_node_us is None else per_node_us
    lowest = floor + nodes * per_node / 1e3     # rules as they are, tracing at its bare cost
    return {
        "config": asdict(cfg),
        "buffered_ms": manual, "autodiff_ms": medians["autodiff"],
        "forward_ms": medians["forward"], "times_ms": times,
        "rules": rules, "rules_ms": rules_ms, "accumulate_ms": accumulate,
        "floor_ms": floor,
        "tracing_and_bookkeeping_ms": overhead,
        "nodes_per_step": nodes,
        "overhead_per_node_us": overhead / nodes * 1e3 if nodes else None,
        # what tracing and bookkeeping may cost at most for the step to meet the bound
        "overhead_allowed_ms": TARGET_RATIO * manual - floor,
        "bare_tracing_per_node_us": per_node,
        "lowest_ms": lowest,
        "ratios": {"autodiff/buffered": medians["autodiff"] / manual,
                   "floor/buffered": floor / manual,
                   "lowest/buffered": lowest / manual},
        "target": {"ratio": "autodiff/buffered", "bound": TARGET_RATIO,
                   "met": medians["autodiff"] / manual <= TARGET_RATIO,
                   "floor_within_bound": floor / manual <= TARGET_RATIO,
                   "lowest_within_bound": lowest / manual <= TARGET_RATIO},
    }


def format_profile(profile: dict[str, Any]) -> str:
    """The readable lines of one profile (str, ending in a newline)."""
    c = profile["config"]
    manual = profile["buffered_ms"]

    def ratio(v: float) -> str:
        return f"{v / manual:5.2f}x"

    sizes = "-".join(str(n) for n in c["sizes"])
    lines = [
        f"autodiff step, {sizes} {c['activation']}, batch {c['batch_size']}, {c['dtype']} "
        f"(ms per step, median of {c['repeats']} runs of {c['steps']} steps)",
        f"  buffered twin, whole step           {manual:7.3f}  {ratio(manual)}",
        f"  autodiff twin, whole step           {profile['autodiff_ms']:7.3f}  "
        f"{ratio(profile['autodiff_ms'])}",
        f"    forward pass, untraced            {profile['forward_ms']:7.3f}",
        f"    autograd's derivative rules       {profile['rules_ms']:7.3f}",
    ]
    for rule in profile["rules"]:
        lines.append(f"      {rule['primitive']:<20s} x{rule['calls_per_step']:<4g}"
                     f"       {rule['ms']:7.3f}")
    per_node = profile["overhead_per_node_us"]
    lines += [
        f"    tracing and bookkeeping           {profile['tracing_and_bookkeeping_ms']:7.3f}"
        f"  ({profile['nodes_per_step']:g} nodes"
        + (f", {per_node:.0f} us each" if per_node is not None else "")
        + f"; accumulating gradients {profile['accumulate_ms']:.3f})",
        f"  floor: forward + rules              {profile['floor_ms']:7.3f}  "
        f"{ratio(profile['floor_ms'])}",
    ]
    lowest = (f"lowest: floor + {profile['nodes_per_step']:g} nodes x "
              f"{profile['bare_tracing_per_node_us']:.0f} us")
    lines.append(f"  {lowest:<36s}{profile['lowest_ms']:7.3f}  {ratio(profile['lowest_ms'])}")
    lines.append("    (autograd's bare cost of a node, measured on 3-element arrays)")
    t = profile["target"]
    verdict = f"  target autodiff/buffered <= {t['bound']}: " + ("met" if t["met"] else "missed")
    if not t["floor_within_bound"]:
        verdict += "; the floor alone is beyond it"
    elif not t["lowest_within_bound"]:
        verdict += "; beyond it even with tracing at its bare cost"
    elif not t["met"]:
        allowed = profile["overhead_allowed_ms"]
        verdict += (f"; it would take tracing and bookkeeping at {allowed:.3f} ms"
                    + (f" ({allowed / profile['nodes_per_step'] * 1e3:.0f} us a node)"
                       if profile["nodes_per_step"] else ""))
    lines.append(verdict)
    return "\n".join(lines) + "\n"
