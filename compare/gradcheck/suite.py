"""Run the gradient-check suite: pick the data and network, run a mode for
each activation, collect the rows and the timings.

Two subjects: the registered twins (every twin against finite differences
and every other twin), or a user's own ``loss_and_grads``
(:mod:`compare.gradcheck.byo`). An activation is a built-in name or a user's
own (:mod:`compare.gradcheck.useractivation`), whose derivative is checked first.

The CLI (``compare/cli/gradcheck.py``) is a thin layer over :func:`run_suite`
and :mod:`compare.gradcheck.render`.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from compare.common.errors import ConfigError
from compare.common.init import init_params
from compare.gradcheck import kinks
from compare.gradcheck.byo import UserCheck, check_user, user_argument
from compare.gradcheck.complex_step import run_complex
from compare.gradcheck.directional import DIRECTIONS, run_fast
from compare.gradcheck.full import run_full
from compare.gradcheck.report import TensorCheck
from compare.gradcheck.sweep import run_sweep
from compare.gradcheck.twins import is_builtin, label, loss_and_grads
from compare.gradcheck.usertwin import UserTwin
from compare.twins import FRAMEWORK_DERIVED, TWINS
from manual import activations
from manual.activations import Activation

MODES = ("full", "fast", "sweep", "complex")
N_CLASSES = 10
N_PIXELS = 784


@dataclass
class SuiteConfig:
    """What to check.

    Attributes:
        activations: hidden activations: built-in names or Activation objects.
        mode: one of :data:`MODES`.
        hidden: hidden-layer widths, e.g. (100,).
        batch: number of MNIST training images.
        seed: seeds the images chosen, the initial weights and the directions.
        init: weight initialisation scheme.
        directions: directions per tensor in mode fast (and for a user's
            own loss).
        data_dir: folder with the MNIST IDX files, or None for the cache.
        twins: names of the registered twins to check (default: every one).
        user: a user's function to check instead of the twins (None: the twins).
    """

    activations: tuple["str | Activation", ...]
    mode: str = "full"
    hidden: tuple[int, ...] = (100,)
    batch: int = 32
    seed: int = 0
    init: str = "xavier"
    directions: int = DIRECTIONS
    data_dir: Path | None = None
    twins: tuple[str, ...] = tuple(TWINS)
    user: UserTwin | None = None

    @property
    def sizes(self) -> list[int]:
        return [N_PIXELS, *self.hidden, N_CLASSES]


@dataclass
class SuiteResult:
    """What :func:`run_suite` found.

    Attributes:
        config: the SuiteConfig.
        rows: every TensorCheck, grouped by activation in order.
        seconds: {activation: wall-clock seconds of its checks}.
        conventions: {activation: derivative at the kink under each
            convention} for activations with a kink.
        sweep_data: {activation: curves} in mode sweep, else {}.
        n_params: number of parameters of the network.
        sizes: the network's layer widths.
        data_source: where the images came from.
        user_checks: {activation: UserCheck} when a user's function was checked.
        notes: {activation: [lines]} anything else the reader should know.
    """

    config: SuiteConfig
    rows: list[TensorCheck] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    conventions: dict[str, dict[str, float | None]] = field(default_factory=dict)
    sweep_data: dict[str, Any] = field(default_factory=dict)
    n_params: int = 0
    sizes: list[int] = field(default_factory=list)
    data_source: str = ""
    user_checks: dict[str, UserCheck] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)


def resolve_activations(name: str | None) -> tuple["str | Activation", ...]:
    """'all' -> every built-in activation; a name -> (name,); ``PATH.py:NAME``
    or ``module:NAME`` -> (the user's Activation,)."""
    if name in (None, "all"):
        return tuple(activations.ACTIVATIONS)
    assert name is not None
    if name in activations.ACTIVATIONS:
        return (name,)
    if ":" in name or name.endswith(".py"):
        from compare.gradcheck.useractivation import load_activation
        return (load_activation(name),)
    activations.get_activation(name)          # raises ConfigError naming the choices
    return (name,)


def training_images(name: str = "mnist") -> int:
    """How many training images the data set has (known without loading it)."""
    from compare.data.datasets import get_spec
    return get_spec(name).count("train")


def load_batch(batch: int, seed: int,
               data_dir: Path | None = None) -> tuple[NDArray, NDArray, str]:
    """``batch`` real MNIST training images and labels, chosen by ``seed``.

    Returns:
        (X (batch, 784) float64 in [0, 1], y (batch,) int64, source str).
    """
    from compare.data.batches import batch_indices
    from compare.data.load import load_dataset
    n = training_images()
    if batch > n:
        raise ConfigError(f"--batch {batch} is more than the {n} training images; "
                          f"choose at most {n}")
    ds = load_dataset("mnist", data_dir=data_dir, dtype="float64", quiet=True)
    index = batch_indices(len(ds.y_train), batch, seed, epoch=0)[0]
    return ds.x_train[index], ds.y_train[index], ds.source


def run_suite(config: SuiteConfig, data: tuple[NDArray, NDArray, str] | None = None,
              progress: Callable[[str], None] | None = None) -> SuiteResult:
    """Run ``config.mode`` for every activation of ``config``.

    Args:
        config: SuiteConfig.
        data: optional (X (B, n_0), y (B,) in 0..9, source) to use instead
            of MNIST (tests use small inputs).
        progress: optional callable(str) told when each activation starts.
    Returns:
        SuiteResult.
    """
    if config.mode not in MODES:
        raise ConfigError(f"unknown mode {config.mode!r}; choose one of {', '.join(MODES)}")
    X, y, source = data if data is not None else load_batch(config.batch, config.seed,
                                                           config.data_dir)
    sizes = [X.shape[1], *config.hidden, N_CLASSES]
    params = init_params(sizes, init=config.init, seed=config.seed, dtype="float64")
    result = SuiteResult(config=config, data_source=source, sizes=sizes,
                         n_params=sum(W.size + b.size for W, b in params))
    for activation in config.activations:
        name = label(activation)
        if progress:
            progress(name)
        start = time.perf_counter()
        rows, notes = _derivative_rows(activation)
        twins, more = _twins_for(activation, config.twins)
        notes += more
        if config.user is not None:
            check = check_user(config.user, params, X, y, activation, config.mode,
                               directions=config.directions, seed=config.seed, twins=twins)
            rows += check.rows
            notes += check.notes
            result.user_checks[name] = check
            if check.sweep_data:
                result.sweep_data[name] = {config.user.name: check.sweep_data}
        else:
            rows += _twin_rows(config, params, X, y, activation, twins, result)
        for row in rows:
            row.activation = name
        result.seconds[name] = time.perf_counter() - start
        result.rows += rows
        result.notes[name] = notes
        conv = kinks.conventions(activation, twins)
        if conv is not None:
            result.conventions[name] = conv
    return result


def _twin_rows(config: SuiteConfig, params: list, X: NDArray, y: NDArray,
               activation: "str | Activation", twins: tuple[str, ...],
               result: SuiteResult) -> list[TensorCheck]:
    """The registered twins' rows for one activation in ``config.mode``."""
    arg = user_argument(activation)
    if config.mode == "full":
        return run_full(params, X, y, arg, twins=twins)
    if config.mode == "fast":
        return run_fast(params, X, y, arg, count=config.directions, seed=config.seed,
                        twins=twins)
    if config.mode == "complex":
        return run_complex(params, X, y, arg, twins=twins)
    rows, curves = run_sweep(params, X, y, arg, seed=config.seed, twins=twins)
    result.sweep_data[label(activation)] = curves
    return rows


def _derivative_rows(activation: "str | Activation") -> tuple[list[TensorCheck], list[str]]:
    """For a user's own activation, its derivative checked on its own first."""
    if isinstance(activation, str) or is_builtin(activation):
        return [], []
    from compare.gradcheck.useractivation import derivative_rows
    return derivative_rows(activation)


def _twins_for(activation: "str | Activation",
               twins: tuple[str, ...]) -> tuple[tuple[str, ...], list[str]]:
    """The twins that can run ``activation``: a framework-derived twin cannot
    differentiate a user's g written in plain numpy (it must use autograd.numpy)."""
    if isinstance(activation, str) or is_builtin(activation):
        return twins, []
    from compare.gradcheck.useractivation import autograd_usable
    usable, notes = [], []
    params = [(np.ones((1, 2)), np.zeros(2)), (np.ones((2, 2)), np.zeros(2))]
    traced = autograd_usable(activation)
    for twin in twins:
        if twin in FRAMEWORK_DERIVED and traced is not None:
            notes.append(f"the {twin} twin is left out: {traced}")
            continue
        try:
            loss, _ = loss_and_grads(twin)(params, np.full((1, 1), 0.3), np.array([0]),
                                           activation)
            if not np.isfinite(loss):
                raise ValueError("a non-finite loss")
            usable.append(twin)
        except Exception as err:
            why = (f"{activation.name} is not written with autograd.numpy, so autograd "
                   "cannot trace it" if twin in FRAMEWORK_DERIVED else
                   f"it raised {type(err).__name__}: {err}")
            notes.append(f"the {twin} twin is left out: {why}")
    return tuple(usable), notes
