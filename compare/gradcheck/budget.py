"""Will a check fit in memory? An estimate, made before any work starts.

The checks keep a few arrays the size of the network per parameter tensor
(loss changes at four steps, the differences derived from them, the twins'
gradients), so their memory grows with the number of parameters; mode fast
and mode sweep hold their random directions besides. The estimate is coarse
on purpose: it is there to refuse ``--hidden 100000`` up front, with a
number, instead of swapping or being killed an hour later.
"""

import os

from compare.common.errors import ConfigError

# Bytes per parameter the check holds at its peak, by mode (see above).
PER_PARAMETER = {"full": 240, "complex": 160, "fast": 64, "sweep": 64}
# The data set in float64, the interpreter and the libraries.
BASE_BYTES = 600 * 2 ** 20
# Share of the available memory a check may plan to use.
SHARE = 0.8


def n_parameters(sizes: list[int]) -> int:
    """Weights and biases of a network with layer widths ``sizes``."""
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def estimate_bytes(sizes: list[int], mode: str, directions: int) -> int:
    """The peak memory a check of a network of widths ``sizes`` needs, roughly."""
    n = n_parameters(sizes)
    per = PER_PARAMETER.get(mode, PER_PARAMETER["full"])
    if mode in ("fast", "sweep"):
        per += 16 * directions
    return BASE_BYTES + per * n


def available_bytes() -> int | None:
    """Memory available to a new process (Linux: MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def check_fits(sizes: list[int], mode: str, directions: int,
               available: int | None = None) -> None:
    """Refuse a network whose check would not fit in memory.

    Raises:
        ConfigError: one line with the estimate, what is available and the way out.
    """
    available = available_bytes() if available is None else available
    need = estimate_bytes(sizes, mode, directions)
    if available is None or need <= SHARE * available:
        return
    network = "-".join(map(str, sizes))
    raise ConfigError(
        f"a {network} network ({n_parameters(sizes):,} parameters) needs about "
        f"{gib(need)} GiB for mode {mode}; {gib(available)} GiB is "
        "available; choose narrower --hidden layers"
        + (" or --mode fast" if mode in ("full", "complex") else " or fewer --directions"))


def gib(n: int) -> str:
    """``n`` bytes in GiB to one decimal, in whole-number arithmetic (any int, however large)."""
    tenths = (10 * n + 2 ** 29) // 2 ** 30
    return f"{tenths // 10}.{tenths % 10}"
