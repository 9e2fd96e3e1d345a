"""Learning-rate schedules: the rate used for every step of one epoch.

The rate changes only between epochs, and depends only on the zero-based
epoch index, so a resumed run uses exactly the rates of an uninterrupted one.
With ``lr0`` the initial rate, ``k`` the ``decay`` option and ``e`` the
zero-based epoch:

- ``constant``:     lr0
- ``decay``:        lr0 / (1 + k * e)       (the paper's decaying rate)
- ``exponential``:  lr0 * exp(-k * e)
- ``step``:         lr0 * k ** floor(e / step_every)   (needs 0 < k <= 1)

So in every schedule epoch 0 uses lr0.
"""

import math
from collections.abc import Callable

from compare.common.errors import ConfigError


def constant(lr0: float, k: float, epoch: int, step_every: int) -> float:
    """lr0, whatever the epoch."""
    return lr0


def inverse_time(lr0: float, k: float, epoch: int, step_every: int) -> float:
    """The paper's decaying rate: lr0 / (1 + k * epoch)."""
    return lr0 / (1.0 + k * epoch)


def exponential(lr0: float, k: float, epoch: int, step_every: int) -> float:
    """lr0 * exp(-k * epoch)."""
    return lr0 * math.exp(-k * epoch)


def step(lr0: float, k: float, epoch: int, step_every: int) -> float:
    """lr0 multiplied by k once every ``step_every`` epochs."""
    return lr0 * k ** (epoch // step_every)


SCHEDULES: dict[str, Callable[[float, float, int, int], float]] = {
    "constant": constant,
    "decay": inverse_time,
    "exponential": exponential,
    "step": step,
}


def check_schedule(name: str, k: float, step_every: object) -> None:
    """Raise ConfigError unless ``name`` is a schedule and ``k`` suits it."""
    if name not in SCHEDULES:
        raise ConfigError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}")
    if not (math.isfinite(k) and k >= 0):
        raise ConfigError(f"decay {k} must be a finite number >= 0; try --decay 0.1")
    if name == "step" and not 0 < k <= 1:
        raise ConfigError(f"the step schedule multiplies the rate by --decay, so it must be "
                          f"in (0, 1], not {k}; try --decay 0.5")
    if (isinstance(step_every, bool) or not isinstance(step_every, int)
            or step_every < 1):
        raise ConfigError(f"step_every {step_every!r} must be a whole number >= 1; "
                          f"try --step-every 10")


def learning_rate(name: str, lr0: float, k: float, epoch: int, step_every: int = 10) -> float:
    """Return the learning rate for zero-based ``epoch`` under schedule ``name``.

    ``k`` and ``step_every`` are trusted (TrainConfig checked them with
    :func:`check_schedule`); an unknown ``name`` raises ConfigError.
    """
    try:
        schedule = SCHEDULES[name]
    except KeyError:
        raise ConfigError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}") \
            from None
    return float(schedule(lr0, k, epoch, step_every))
