"""Run the gradient-check suite: pick the data and network, run a mode for
each activation, collect the rows and the timings.

The CLI (``compare/cli/gradcheck.py``) is a thin layer over :func:`run_suite`
and :mod:`compare.gradcheck.render`.
"""

import time
from dataclasses import dataclass, field

from compare.common.errors import ConfigError
from compare.common.init import init_params
from compare.gradcheck import kinks
from compare.gradcheck.complex_step import run_complex
from compare.gradcheck.directional import DIRECTIONS, run_fast
from compare.gradcheck.full import run_full
from compare.gradcheck.sweep import run_sweep
from compare.twins import TWINS
from manual import activations

MODES = ("full", "fast", "sweep", "complex")
N_CLASSES = 10
N_PIXELS = 784


@dataclass
class SuiteConfig:
    """What to check.

    Attributes:
        activations: hidden activation names.
        mode: one of :data:`MODES`.
        hidden: hidden-layer widths, e.g. (100,).
        batch: number of MNIST training images.
        seed: seeds the images chosen, the initial weights and the directions.
        init: weight initialisation scheme.
        directions: directions per tensor in mode fast.
        data_dir: folder with the MNIST IDX files, or None for the cache.
        twins: names of the registered twins to check (default: every one).
    """

    activations: tuple
    mode: str = "full"
    hidden: tuple = (100,)
    batch: int = 32
    seed: int = 0
    init: str = "xavier"
    directions: int = DIRECTIONS
    data_dir: object = None
    twins: tuple = tuple(TWINS)

    @property
    def sizes(self):
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
    """

    config: SuiteConfig
    rows: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)
    conventions: dict = field(default_factory=dict)
    sweep_data: dict = field(default_factory=dict)
    n_params: int = 0
    sizes: list = field(default_factory=list)
    data_source: str = ""


def resolve_activations(name):
    """'all' -> every activation of the hand-derived registry; a name -> (name,)."""
    if name in (None, "all"):
        return tuple(activations.ACTIVATIONS)
    activations.get_activation(name)          # raises ConfigError naming the choices
    return (name,)


def load_batch(batch, seed, data_dir=None):
    """``batch`` real MNIST training images and labels, chosen by ``seed``.

    Returns:
        (X (batch, 784) float64 in [0, 1], y (batch,) int64, source str).
    """
    from compare.data.batches import batch_indices
    from compare.data.load import load_dataset
    ds = load_dataset("mnist", data_dir=data_dir, dtype="float64", quiet=True)
    n = len(ds.y_train)
    if batch > n:
        raise ConfigError(f"--batch {batch} is more than the {n} training images; "
                          f"choose at most {n}")
    index = batch_indices(n, batch, seed, epoch=0)[0]
    return ds.x_train[index], ds.y_train[index], ds.source


def run_suite(config, data=None, progress=None):
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
        if progress:
            progress(activation)
        start = time.perf_counter()
        if config.mode == "full":
            rows = run_full(params, X, y, activation, twins=config.twins)
        elif config.mode == "fast":
            rows = run_fast(params, X, y, activation, count=config.directions,
                            seed=config.seed, twins=config.twins)
        elif config.mode == "complex":
            rows = run_complex(params, X, y, activation, twins=config.twins)
        else:
            rows, curves = run_sweep(params, X, y, activation, seed=config.seed,
                                     twins=config.twins)
            result.sweep_data[activation] = curves
        result.seconds[activation] = time.perf_counter() - start
        result.rows += rows
        conv = kinks.conventions(activation)
        if conv is not None:
            result.conventions[activation] = conv
    return result


def n_failed(result):
    """Number of failed rows."""
    return sum(r.verdict == "FAIL" for r in result.rows)
