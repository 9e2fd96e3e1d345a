"""What BLAS numpy runs on, with how many threads, without a new dependency.

numpy's build configuration names the library (``np.show_config``); the
thread count is asked of the loaded OpenBLAS itself through ctypes, the way
threadpoolctl does it, when that library is OpenBLAS. Anything that cannot be
found is reported as None rather than guessed.
"""

import ctypes
import os

import numpy as np

from compare.common.errors import ConfigError

# Environment variables that change what OpenBLAS does (kernel choice, cache
# sizes, threads); the bench reports whichever are set.
BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
            "OPENBLAS_VERBOSE", "GOTO_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

# The symbol prefixes/suffixes of OpenBLAS builds numpy ships or links.
_OPENBLAS_SYMBOLS = (("scipy_openblas_", "64_"), ("scipy_openblas_", ""),
                     ("openblas_", "64_"), ("openblas_", ""))


def _openblas():
    """Return (ctypes library, prefix, suffix) of the loaded OpenBLAS, or None."""
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps
                            if "openblas" in line.lower() and line.split()[-1].startswith("/")})
    except OSError:
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in _OPENBLAS_SYMBOLS:
            if hasattr(lib, f"{prefix}get_num_threads{suffix}"):
                return lib, prefix, suffix
    return None


def _call(found, name, restype=ctypes.c_int, *args):
    lib, prefix, suffix = found
    function = getattr(lib, f"{prefix}{name}{suffix}", None)
    if function is None:
        return None
    function.restype = restype
    return function(*args)


def blas_threads():
    """Number of threads the loaded OpenBLAS uses, or None if it cannot be asked."""
    found = _openblas()
    return None if found is None else _call(found, "get_num_threads")


def set_blas_threads(n):
    """Make the loaded OpenBLAS use ``n`` threads; return True if it could be told."""
    found = _openblas()
    if found is None:
        return False
    lib, prefix, suffix = found
    function = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
    if function is None:
        return False
    function.restype = None
    function(ctypes.c_int(int(n)))
    return blas_threads() == int(n)


def require_blas_threads(n):
    """Set the BLAS threads asked for on the command line (None: leave them), or raise.

    Raises:
        ConfigError: the loaded BLAS could not be told (not OpenBLAS?).
    """
    if n is not None and not set_blas_threads(n):
        raise ConfigError(f"could not set numpy's BLAS to {n} threads (not OpenBLAS?); "
                          "leave out --threads or set OPENBLAS_NUM_THREADS")


def blas_info():
    """A JSON-ready description of numpy's BLAS.

    Returns:
        dict with ``name``, ``version``, ``build_config`` (from
        np.show_config), ``runtime_config``, ``core`` and ``threads`` (from the
        loaded OpenBLAS, None when not OpenBLAS) and ``env`` (the BLAS
        environment variables that are set).
    """
    info = {"name": None, "version": None, "build_config": None}
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info.update(name=blas.get("name"), version=blas.get("version"),
                    build_config=blas.get("openblas configuration"))
    except (KeyError, TypeError, ValueError, AttributeError):
        pass
    found = _openblas()
    info["runtime_config"] = info["core"] = info["threads"] = None
    if found is not None:
        config = _call(found, "get_config", ctypes.c_char_p)
        core = _call(found, "get_corename", ctypes.c_char_p)
        info["runtime_config"] = config.decode(errors="replace").strip() if config else None
        info["core"] = core.decode(errors="replace").strip() if core else None
        info["threads"] = _call(found, "get_num_threads")
    info["env"] = {name: os.environ[name] for name in BLAS_ENV if name in os.environ}
    return info
