"""What BLAS numpy runs on, and with how many threads, through threadpoolctl.

threadpoolctl finds the BLAS libraries loaded in this process, asks each for
its thread count, version and kernels, and sets their thread counts. The
bench limits only libraries of ``user_api`` "blas" (numpy's OpenBLAS, or
MKL, BLIS, FlexiBLAS): PyTorch's own threads are set through PyTorch.
numpy's build configuration (``np.show_config``) adds what the library was
built for. Anything that cannot be found is reported as None, not guessed.
"""

import os
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from compare.common.errors import ConfigError

# Environment variables that change what a BLAS does (kernel choice, cache
# sizes, threads); the bench reports whichever are set.
BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
            "OPENBLAS_VERBOSE", "GOTO_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _blas_libraries() -> list[dict[str, Any]]:
    """threadpoolctl's description of each BLAS library loaded now (list of dicts)."""
    return ThreadpoolController().select(user_api="blas").info()


def blas_threads() -> int | None:
    """Threads of the loaded BLAS (the largest, if several are loaded), or None if none is."""
    counts = [lib["num_threads"] for lib in _blas_libraries()]
    return max(counts) if counts else None


def set_blas_threads(n: int) -> bool:
    """Make every loaded BLAS use ``n`` threads; return True if each now says it does."""
    controller = ThreadpoolController().select(user_api="blas")
    if not controller.lib_controllers:
        return False
    controller.limit(limits=int(n))
    return all(lib["num_threads"] == int(n) for lib in _blas_libraries())


def require_blas_threads(n: int | None) -> None:
    """Set the BLAS threads asked for on the command line (None: leave them), or raise.

    Raises:
        ConfigError: no BLAS that threadpoolctl can control is loaded, or it
            did not take the count.
    """
    if n is not None and not set_blas_threads(n):
        raise ConfigError(f"could not set numpy's BLAS to {n} threads (threadpoolctl found "
                          "no BLAS it can control); leave out --threads or set "
                          "OPENBLAS_NUM_THREADS")


def blas_info() -> dict[str, Any]:
    """A JSON-ready description of numpy's BLAS.

    Returns:
        dict with ``name``, ``version`` and ``build_config`` (numpy's build
        configuration, np.show_config); ``libraries`` (threadpoolctl's
        description of each loaded BLAS: internal_api, version,
        architecture, threading_layer, num_threads, filepath); ``core`` and
        ``threads`` (the first library's architecture and thread count,
        None when no BLAS is found); ``env`` (the BLAS environment variables
        that are set).
    """
    info: dict[str, Any] = {"name": None, "version": None, "build_config": None}
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info.update(name=blas.get("name"), version=blas.get("version"),
                    build_config=blas.get("openblas configuration"))
    except (KeyError, TypeError, ValueError, AttributeError):
        pass
    libraries = [{key: lib.get(key) for key in ("internal_api", "version", "architecture",
                                                "threading_layer", "num_threads", "filepath")}
                 for lib in _blas_libraries()]
    info["libraries"] = libraries
    info["core"] = libraries[0]["architecture"] if libraries else None
    info["threads"] = libraries[0]["num_threads"] if libraries else None
    info["env"] = {name: os.environ[name] for name in BLAS_ENV if name in os.environ}
    return info
