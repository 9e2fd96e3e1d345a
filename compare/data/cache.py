"""Where fetched data sets live on disk, and what state each cached file is in.

The cache root is ``$TWINPROP_DATA``, else ``$XDG_CACHE_HOME/twinprop``, else
``~/.cache/twinprop``; each data set has its own folder holding its four
canonical IDX files, uncompressed so a load is one read per file and no
decoding. Nothing here writes: :mod:`compare.data.fetch` fills the cache.
Every cached file is checked against the catalog's SHA-256 on every load;
a damaged one is refused, never repaired behind the user's back.
"""

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from compare.atomic import check_output_dir
from compare.common.errors import DataError
from compare.data.datasets import DatasetSpec, Key
from compare.data.verify import check_sha256, decode


def cache_root() -> Path:
    """The folder holding every cached data set (not created here)."""
    if os.environ.get("TWINPROP_DATA"):
        return Path(os.environ["TWINPROP_DATA"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "twinprop"
    return Path.home() / ".cache" / "twinprop"


def dataset_dir(spec: DatasetSpec) -> Path:
    """The cache folder of one data set."""
    return cache_root() / spec.name


def cached_path(spec: DatasetSpec, key: Key) -> Path:
    """The cache path of the file ``key`` = (split, kind)."""
    return dataset_dir(spec) / spec.files[key].name


def repair_command(spec: DatasetSpec) -> str:
    """The command that re-gets the damaged files of ``spec``'s cache."""
    return f"twinprop data fetch --dataset {spec.name} --repair"


def check_writable(spec: DatasetSpec) -> Path:
    """Refuse up front (ConfigError) a cache folder that could not be written into."""
    what = "TWINPROP_DATA folder" if os.environ.get("TWINPROP_DATA") else \
        "cache folder (move it with TWINPROP_DATA)"
    return check_output_dir(dataset_dir(spec), what)


@dataclass
class Scan:
    """What the cache holds of one data set.

    ``good`` maps each verified file to its array; ``damaged`` maps each file
    that is there but wrong to the one-line reason; ``missing`` lists the files
    that are not there at all.
    """

    spec: DatasetSpec
    good: dict[Key, npt.NDArray[np.uint8]] = field(default_factory=dict)
    damaged: dict[Key, str] = field(default_factory=dict)
    missing: list[Key] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return len(self.good) == len(self.spec.files)

    def arrays(self) -> dict[Key, npt.NDArray[np.uint8]]:
        """{(split, kind): uint8 array} of the good files."""
        return dict(self.good)

    def refuse_damaged(self) -> None:
        """DataError naming the first damaged file and the repair command, if any is."""
        if self.damaged:
            key, reason = next(iter(self.damaged.items()))
            more = len(self.damaged) - 1
            also = f" (and {more} more damaged file{'s' * (more > 1)})" if more else ""
            raise DataError(f"{reason}{also}")


def scan(spec: DatasetSpec, keys: Iterable[Key] | None = None) -> Scan:
    """Read and check the cached files ``keys`` of ``spec`` (default all; one read per file).

    Only a whole scan can be ``complete``.
    """
    result = Scan(spec)
    fix = f"the cached copy is damaged: run '{repair_command(spec)}' to get it again"
    for key in spec.files if keys is None else keys:
        path = cached_path(spec, key)
        if not os.path.lexists(path):
            result.missing.append(key)
            continue
        where = f"cache file {path}"
        try:
            raw = path.read_bytes()
            array = decode(key, raw, where, fix)
            check_sha256(spec, key, raw, where, fix)
        except DataError as err:
            result.damaged[key] = str(err)
        except OSError as err:
            result.damaged[key] = f"{where}: {_os_reason(path, err)}; {fix}"
        else:
            result.good[key] = array
    return result


def _os_reason(path: Path, err: OSError) -> str:
    """How an OS error on a file that should be readable reads in a message."""
    if path.is_dir():
        return "is a folder, not a file"
    return f"cannot read: {err.strerror or err}"


def load(spec: DatasetSpec, keys: Iterable[Key] | None = None
         ) -> dict[Key, npt.NDArray[np.uint8]]:
    """The verified arrays of the cached files ``keys`` (default all four).

    Raises:
        DataError: one of them is damaged or missing.
    """
    result = scan(spec, keys)
    result.refuse_damaged()
    if result.missing:
        names = ", ".join(spec.files[k].name for k in result.missing)
        raise DataError(f"{dataset_dir(spec)} lacks {names}; run "
                        f"'twinprop data fetch --dataset {spec.name}'")
    return result.arrays()
