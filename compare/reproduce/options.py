"""What ``twinprop reproduce`` is asked to do, and the domain of every option.

``check_options`` runs before anything is trained or written: each value out
of its domain is refused with one line (a ConfigError) naming the option,
what is wrong and what to use instead.
"""

import os
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from compare.atomic import check_output_dir
from compare.common.errors import ConfigError
from compare.data.arrays import check_data_dir
from compare.reproduce import figures as F
from compare.train.config import catalog_sizes
from compare.twins import TWINS, check_twin_names

# Upper ends of the counts. Past them a value is a slip of the keyboard, not
# a plan: every seed repeats every configuration, and the paper's longest
# figure trains 30 epochs.
MAX_SEEDS = 100
MAX_EPOCHS = 1000
# The protocols a Dask scheduler listens on (distributed's comm registry).
SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
_HOST = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass
class Options:
    """What ``twinprop reproduce`` was asked to do (see its --help)."""

    figures: tuple[str, ...] = F.FIGURE_NUMBERS
    quick: bool = False
    seeds: int = 1
    jobs: int | None = None
    scheduler: str | None = None
    out: Path = Path("twinprop-out")
    data_dir: Path | None = None
    epochs: int | None = None
    train_subset: int | None = None
    test_subset: int | None = None
    twins: tuple[str, ...] = field(default_factory=lambda: tuple(TWINS))
    command: str = "twinprop reproduce"


def usable_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def check_options(options: Options) -> None:
    """Refuse, before any work, every option outside its domain.

    Raises:
        ConfigError: one line naming the option and the way out.
    """
    unknown = [n for n in options.figures if n not in F.FIGURE_NUMBERS]
    if unknown or not options.figures:
        raise ConfigError(f"--figure {', '.join(unknown) or '(none)'} is not a figure of the "
                          f"paper; choose from {', '.join(F.FIGURE_NUMBERS)} or all")
    options.twins = check_twin_names(options.twins)
    _check_count("--seeds", options.seeds, MAX_SEEDS)
    if options.jobs is not None:
        _check_count("--jobs", options.jobs, usable_cores(),
                     "the cores of this machine (use --scheduler for more)")
    if options.epochs is not None:
        _check_count("--epochs", options.epochs, MAX_EPOCHS)
    if options.scheduler is not None:
        check_scheduler_address(options.scheduler)
    if options.data_dir is not None:
        check_data_dir(options.data_dir)
    _check_subsets(options)
    check_output_dir(options.out, "--out")
    # The folders the run writes into, which a file of the same name would block.
    for folder in ("runs", scale_of(options)[1]):
        check_output_dir(Path(options.out) / folder, "--out")


def _check_count(flag: str, value: object, most: int, what: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise ConfigError(f"{flag} {value} is out of range; use a whole number from 1 to "
                          f"{most}" + (f" ({what})" if what else ""))


def _check_subsets(options: Options) -> None:
    """The subsets fit the data set, and the training subset fits every planned batch.

    Checked on the figures' settings, before any TrainConfig is made (whose
    own message would name the train command's options).
    """
    scale, _ = scale_of(options)
    table = F.figures(scale)
    settings = [(n, dict(F.PAPER_SETUP, **v.settings))
                for n in options.figures for v in table[n].variants]
    sizes = catalog_sizes(F.DATASET)
    n_train, n_test = sizes.n_train, sizes.n_test
    for flag, value, most, split in (("--train-subset", options.train_subset, n_train,
                                      "training"),
                                     ("--test-subset", options.test_subset, n_test, "test")):
        if value is not None:
            _check_count(flag, value, most, f"the {F.DATASET} {split} set has {most:,} images")
    used = scale.train_subset or n_train
    for number, setting in settings:
        batch = setting["batch_size"]
        if batch is not None and batch > used:
            raise ConfigError(f"--train-subset {used} is smaller than the batch of {batch} "
                              f"that figure {number} trains with; use --train-subset {batch} "
                              "or more")


def scale_of(options: Options) -> tuple[F.Scale, str]:
    """The Scale the options ask for, and its name (full, quick or custom)."""
    scale = F.QUICK if options.quick else F.FULL
    custom = any(v is not None for v in (options.epochs, options.train_subset,
                                         options.test_subset))
    scale = F.adjust(scale, options.epochs, options.train_subset, options.test_subset)
    return scale, ("custom" if custom else scale.name)


def check_scheduler_address(address: str) -> str:
    """``address`` if it is ``[PROTOCOL://]HOST:PORT``; ConfigError otherwise.

    HOST is a name, an IPv4 address or a bracketed IPv6 one; PORT 1-65535;
    PROTOCOL one of SCHEDULER_SCHEMES (tcp when left out, as Dask does).
    """
    example = "e.g. tcp://SCHEDULER-HOST:8786"
    text = address.strip()
    scheme = text.split("://", 1)[0] if "://" in text else "tcp"
    if scheme not in SCHEDULER_SCHEMES:
        raise ConfigError(f"--scheduler {address!r}: unknown protocol {scheme!r}; use one of "
                          f"{', '.join(SCHEDULER_SCHEMES)} ({example})")
    parts = urllib.parse.urlsplit(text if "://" in text else f"tcp://{text}")
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or ""
    plain_host = _HOST.match(host) or (":" in host and parts.netloc.startswith("["))
    if (port is None or not 1 <= port <= 65535 or not plain_host or parts.path
            or parts.query or parts.fragment or "@" in parts.netloc):
        raise ConfigError(f"--scheduler {address!r} is not HOST:PORT with a port from 1 to "
                          f"65535; give the scheduler's address, {example}")
    return address
