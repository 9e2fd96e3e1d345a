"""Where fetched data sets live on disk.

The cache root is ``$TWINPROP_DATA``, else ``$XDG_CACHE_HOME/twinprop``, else
``~/.cache/twinprop``; each data set has its own folder holding its four
canonical IDX files, uncompressed so a load is one read and no decoding.
"""

import os
from pathlib import Path

import numpy as np

from compare.atomic import write_bytes
from compare.common.errors import DataError
from compare.data.idx import decode_idx, encode_idx


def cache_root():
    """The folder holding every cached data set (not created here)."""
    if os.environ.get("TWINPROP_DATA"):
        return Path(os.environ["TWINPROP_DATA"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "twinprop"
    return Path.home() / ".cache" / "twinprop"


def dataset_dir(spec):
    """The cache folder of one data set."""
    return cache_root() / spec.name


def cached_paths(spec):
    """{(split, kind): Path} of the four canonical files in the cache."""
    folder = dataset_dir(spec)
    return {key: folder / f.name for key, f in spec.files.items()}


def is_complete(spec):
    """True when all four files of ``spec`` are in the cache."""
    return all(p.is_file() for p in cached_paths(spec).values())


def load(spec, fix):
    """Read the four cached files; return {(split, kind): uint8 array}.

    A damaged file raises DataError ending in ``fix`` (how to fetch it again).

    Each file is read once and viewed with np.frombuffer (no copy, no gzip),
    which keeps a cached MNIST load well under a second.
    """
    arrays = {}
    for (split, kind), path in cached_paths(spec).items():
        try:
            arrays[(split, kind)] = decode_idx(path.read_bytes(), where=str(path),
                                               expect_ndim=3 if kind == "images" else 1)
        except DataError as err:
            raise DataError(f"{err} (cached copy is damaged: {fix})") from None
        except OSError as err:
            raise DataError(f"{path}: cannot read: {err.strerror}; {fix}") from None
    return arrays


def store(spec, arrays):
    """Write four verified arrays into the cache as raw canonical IDX files.

    Each file is written to a temporary name and renamed, so the cache never
    holds a half-written file.
    """
    for key, path in cached_paths(spec).items():
        write_bytes(path, encode_idx(np.asarray(arrays[key], dtype=np.uint8)))
    return dataset_dir(spec)

