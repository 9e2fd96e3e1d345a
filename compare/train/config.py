"""TrainConfig: every choice that decides a training run, checked on creation.

Two runs with equal configs (and equal data) give bit-identical parameters.
Names (activations, initialisations, data sets) are checked against the
registries that define them, so adding one there is enough. This is the one
place a run's options are checked: the CLI, config.json and the library all
build a TrainConfig, and what is past it trusts it.
"""

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from compare.common.dtypes import DTYPES
from compare.common.errors import ConfigError
from compare.train.schedules import SCHEDULES, check_schedule, learning_rate

# The paper's best setting (tanh, 100 hidden units, minibatches of 250, a
# decaying rate); the initialisation, lr0 and k were chosen on a validation
# split of the training set (docs/training.md has the measurement).
DEFAULT_INIT = "lecun"
DEFAULT_LR = 0.75
DEFAULT_DECAY = 0.05
DEFAULT_EPOCHS = 30


@dataclass(frozen=True)
class DataSizes:
    """The sizes of a data set that decide a network's shape and a run's batches."""

    n_train: int
    n_test: int
    n_features: int
    n_classes: int


def known_activations() -> tuple[str, ...]:
    """Names of the hidden activations (the registry every twin shares)."""
    from manual import activations
    return tuple(activations.ACTIVATIONS)


def known_inits() -> tuple[str, ...]:
    """Names of the weight initialisations (from compare.common.init's registry)."""
    from compare.common import init
    return tuple(init.INITS)


def known_datasets() -> tuple[str, ...]:
    """Names of the data sets compare.data.load can load (from the catalog)."""
    from compare.data.datasets import CATALOG
    return tuple(CATALOG)


def catalog_sizes(name: str) -> DataSizes:
    """The sizes of the catalog's data set ``name``, known before it is loaded.

    Every copy that loads is checked against the same catalog (its class
    counts and image shape), so these are the loaded data's sizes too.
    """
    from compare.data.datasets import get_spec
    spec = get_spec(name)
    return DataSizes(n_train=spec.count("train"), n_test=spec.count("test"),
                     n_features=math.prod(spec.image_shape), n_classes=spec.n_classes)


def _check_name(kind: str, value: object, known: tuple[str, ...], flag: str) -> None:
    if not isinstance(value, str) or value not in known:
        raise ConfigError(f"unknown {kind} {value!r}; choose {flag} from {', '.join(known)}")


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _check_count(name: str, value: object, flag: str, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not _is_count(value):
        raise ConfigError(f"{name} must be a whole number >= 1, not {value!r}; fix {flag}")


@dataclass(frozen=True)
class TrainConfig:
    """One training run.

    ``batch_size=None`` means the whole training set (full-batch gradient
    descent); ``train_subset``/``test_subset`` keep the first N examples of
    each split (None keeps all). ``lr`` is the initial rate of ``schedule``
    and ``decay`` its k (see compare/train/schedules.py); ``step_every`` is used by
    the step schedule only.
    """

    activation: str = "tanh"
    hidden: tuple[int, ...] = (100,)
    init: str = DEFAULT_INIT
    batch_size: int | None = 250
    lr: float = DEFAULT_LR
    schedule: str = "decay"
    decay: float = DEFAULT_DECAY
    step_every: int = 10
    epochs: int = DEFAULT_EPOCHS
    seed: int = 0
    dtype: str = "float64"
    dataset: str = "mnist"
    train_subset: int | None = None
    test_subset: int | None = None

    def __post_init__(self) -> None:
        # Normalise the forms JSON and argparse produce (lists, ints for floats).
        if not isinstance(self.hidden, (list, tuple)):
            raise ConfigError(f"hidden must be a list of layer widths, not {self.hidden!r}; "
                              f"fix --hidden")
        object.__setattr__(self, "hidden", tuple(self.hidden))
        for name in ("lr", "decay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{name} must be a number, not {value!r}; fix --{name}")
            object.__setattr__(self, name, float(value))
        self._validate()

    def _validate(self) -> None:
        if not _hidden_ok(self.hidden):
            raise ConfigError(f"hidden layer widths must be whole numbers >= 1, not "
                              f"{list(self.hidden)}; fix --hidden, e.g. --hidden 100 --hidden 50")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"learning rate {self.lr} must be a finite number > 0; "
                              f"try --lr {DEFAULT_LR}")
        _check_name("schedule", self.schedule, tuple(SCHEDULES), "--schedule")
        check_schedule(self.schedule, self.decay, self.step_every)
        _check_count("batch size", self.batch_size, "--batch-size (or use 'full')", allow_none=True)
        _check_count("epochs", self.epochs, "--epochs")
        _check_count("train_subset", self.train_subset, "--train-subset", allow_none=True)
        _check_count("test_subset", self.test_subset, "--test-subset", allow_none=True)
        self._check_seed()
        _check_name("dtype", self.dtype, DTYPES, "--dtype")
        _check_name("activation", self.activation, known_activations(), "--activation")
        _check_name("initialisation", self.init, known_inits(), "--init")
        _check_name("data set", self.dataset, known_datasets(), "--dataset")
        self._check_rate_stays_positive()
        check_fits(self, catalog_sizes(self.dataset), self.dataset)

    def _check_seed(self) -> None:
        # numpy seeds its generators with any whole number >= 0, and nothing else.
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be a whole number >= 0 (numpy takes no other), not "
                              f"{self.seed!r}; fix --seed")

    def _check_rate_stays_positive(self) -> None:
        # Every schedule only ever lowers the rate, so the last epoch's is the smallest.
        try:
            last = learning_rate(self.schedule, self.lr, self.decay, self.epochs - 1,
                                 self.step_every)
        except OverflowError:   # k * epoch beyond a float: the rate is 0 long before
            last = 0.0
        if not last > 0:
            raise ConfigError(f"the {self.schedule} schedule with --lr {self.lr:g} and --decay "
                              f"{self.decay:g} brings the rate to {last:g} by epoch "
                              f"{self.epochs}, and training would stop; use a smaller --decay "
                              f"or fewer --epochs")

    def replace(self, **changes: Any) -> "TrainConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; ``TrainConfig.from_dict(c.to_dict()) == c``."""
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: object, where: str = "the config") -> "TrainConfig":
        """Build a config from a dict such as ``to_dict()`` returns.

        Missing keys take their defaults; unknown keys, or anything but a dict,
        raise ConfigError naming ``where`` the dict came from.
        """
        if not isinstance(d, dict):
            raise ConfigError(f"{where} must be an object of options, not "
                              f"{type(d).__name__}")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(map(str, d)) - fields)
        if unknown:
            raise ConfigError(f"unknown config keys {unknown} in {where}; known keys are "
                              f"{sorted(fields)}")
        return cls(**d)


def check_fits(cfg: TrainConfig, sizes: DataSizes, name: str) -> None:
    """Refuse subsets larger than the data set ``name`` and batches larger than its subset.

    Raises:
        ConfigError: one line with the sizes and the way out (never clamped silently).
    """
    for split, subset, n, flag in (("training", cfg.train_subset, sizes.n_train, "--train-subset"),
                                   ("test", cfg.test_subset, sizes.n_test, "--test-subset")):
        if subset is not None and subset > n:
            raise ConfigError(f"{flag} {subset} is larger than the {n} {split} examples of "
                              f"{name}; use {flag} {n} or less, or leave it out to use all")
    n_train = cfg.train_subset or sizes.n_train
    if cfg.batch_size is not None and cfg.batch_size > n_train:
        raise ConfigError(f"batch size {cfg.batch_size} is larger than the {n_train} "
                          f"training examples; use a smaller --batch-size or --batch-size full")


def _hidden_ok(hidden: tuple[object, ...]) -> bool:
    """True when ``hidden`` is a non-empty tuple of whole numbers >= 1."""
    return len(hidden) > 0 and all(_is_count(h) for h in hidden)
