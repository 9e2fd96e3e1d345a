"""Keep freed memory in the process, so numpy's temporaries are not paged in every step.

Every numpy operation that is not written through ``out=`` allocates its
result, and autograd writes nothing through ``out=``. glibc's malloc serves
a request above ``M_MMAP_THRESHOLD`` (128 KiB at start; raised only when
such a block is freed) with fresh pages from the kernel and hands them back
on free, and it trims the top of its heap back to the kernel once more than
``M_TRIM_THRESHOLD`` lies free there. Either way the next step's arrays are
faulted in again page by page: a batch-250 step of the autodiff twin makes a
dozen layer- and weight-sized arrays, and how often they are faulted in
depends on what the process allocated before (``twinprop bench
--profile-autodiff`` shows it under "accumulating gradients").

:func:`tune_malloc` fixes both thresholds once for the whole process: blocks
up to ``MMAP_THRESHOLD`` come from the heap, and up to ``TRIM_THRESHOLD`` of
free heap is kept for reuse. The dataset (hundreds of MB) is still mapped
and unmapped as before. The ``twinprop`` command calls it first thing, for
both twins alike; ``TWINPROP_MALLOC=default`` leaves malloc as it is (to
measure the difference). Elsewhere than glibc it does nothing and says why.
"""

import ctypes
import ctypes.util
import os
from collections.abc import Callable, Mapping
from typing import Any

from compare.common.errors import ConfigError

# mallopt parameters, from glibc's malloc.h
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# the most glibc's own dynamic threshold ever reaches on 64-bit systems
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 128 << 20
ENV = "TWINPROP_MALLOC"

# What the last tune_malloc() did (reported by twinprop bench).
state: dict[str, Any] = {"tuned": False, "why": "tune_malloc() not called"}


def tune_malloc(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Set glibc's mmap and trim thresholds for this process, once.

    Args:
        environ: mapping to read ``TWINPROP_MALLOC`` from (default os.environ).
    Returns:
        dict: ``tuned`` (bool), and ``mmap_threshold`` / ``trim_threshold``
        in bytes when tuned, else ``why`` (str). Also kept in :data:`state`.
    Raises:
        ConfigError: ``TWINPROP_MALLOC`` is set to something else.
    """
    environ = os.environ if environ is None else environ
    wanted = environ.get(ENV, "tuned")
    if wanted not in ("tuned", "default"):
        raise ConfigError(f"{ENV}={wanted!r} is neither 'tuned' nor 'default'; "
                          f"unset it, or set {ENV}=default to leave malloc as it is")
    if wanted == "default":
        return _record(tuned=False, why=f"{ENV}=default")
    mallopt = _glibc_mallopt()
    if mallopt is None:
        return _record(tuned=False, why="not glibc (no mallopt); malloc left as it is")
    if not (mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
            and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)):
        return _record(tuned=False, why="glibc refused the thresholds; malloc left as it is")
    return _record(tuned=True, mmap_threshold=MMAP_THRESHOLD, trim_threshold=TRIM_THRESHOLD)


def _record(**now: Any) -> dict[str, Any]:
    """Replace the contents of :data:`state` (in place: importers keep seeing it)."""
    state.clear()
    state.update(now)
    return dict(state)


def _glibc_mallopt() -> Callable[[int, int], int] | None:
    """glibc's ``int mallopt(int, int)``, or None where there is none."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        function = libc.mallopt
    except (OSError, AttributeError):
        return None
    if not hasattr(libc, "gnu_get_libc_version"):   # only glibc has it: musl's mallopt is a stub
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int)
    function.restype = ctypes.c_int
    return function
