"""Small generated data sets and a local HTTP server for the data-pipeline tests.

Nothing here touches the network beyond 127.0.0.1: ``isolate`` points the
cache at a temporary folder and turns the public mirrors and the registry
off (the conftest guard fails any test that connects elsewhere).
"""

import builtins
import contextlib
import errno
import functools
import gzip
import hashlib
import http.server
import io
import os
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from compare.data.datasets import DatasetSpec, FileSpec, Key
from compare.data.idx import encode_idx

IMAGE_SHAPE = (4, 5)
N_CLASSES = 3
NAMES = {("train", "images"): "train-images-idx3-ubyte",
         ("train", "labels"): "train-labels-idx1-ubyte",
         ("test", "images"): "t10k-images-idx3-ubyte",
         ("test", "labels"): "t10k-labels-idx1-ubyte"}
Arrays = dict[Key, npt.NDArray[np.uint8]]


def make_arrays(seed: int = 0, n_train: int = 24, n_test: int = 9) -> Arrays:
    """Random uint8 images (n, 4, 5) and labels (n,) in 0..2 for both splits.

    Each split holds every class and at least two different labels, so that
    swapping two labels always changes the bytes.
    """
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        arrays[(split, "images")] = rng.integers(0, 256, (n,) + IMAGE_SHAPE, dtype=np.uint8)
        labels = rng.integers(0, N_CLASSES, n, dtype=np.uint8)
        labels[:N_CLASSES] = np.arange(N_CLASSES, dtype=np.uint8)
        arrays[(split, "labels")] = labels
    return arrays


def gz_bytes(array: npt.NDArray[np.uint8]) -> bytes:
    """The .gz bytes of an array's IDX file (deterministic: mtime 0)."""
    return gzip.compress(encode_idx(array), mtime=0)


def make_spec(arrays: Arrays, name: str = "tiny", **changes: object) -> DatasetSpec:
    """A DatasetSpec whose sizes and checksums are computed from ``arrays``."""
    files = {}
    for key, fname in NAMES.items():
        raw, gz = encode_idx(arrays[key]), gz_bytes(arrays[key])
        files[key] = FileSpec(fname, len(raw), hashlib.sha256(raw).hexdigest(),
                              len(gz), hashlib.sha256(gz).hexdigest())
    spec = DatasetSpec(name=name, title="tiny test set", class_names=("a", "b", "c"),
                       files=files, image_shape=IMAGE_SHAPE)
    return spec.replace(**changes) if changes else spec


def write_folder(folder: Path, spec: DatasetSpec, arrays: Arrays, compress: bool = True) -> Path:
    """Write the four IDX files of ``arrays`` into ``folder`` (.gz or raw)."""
    folder.mkdir(parents=True, exist_ok=True)
    for key, fspec in spec.files.items():
        if compress:
            (folder / f"{fspec.name}.gz").write_bytes(gz_bytes(arrays[key]))
        else:
            (folder / fspec.name).write_bytes(encode_idx(arrays[key]))
    return folder


def isolate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Cache in tmp_path/cache, no public mirrors, no registry; returns the cache root."""
    monkeypatch.setenv("TWINPROP_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("TWINPROP_MIRRORS", "")
    monkeypatch.setenv("TWINPROP_REGISTRY", "off")
    return tmp_path / "cache"


def snapshot(root: Path) -> dict[str, tuple[str, bytes | int]]:
    """Everything under ``root``: {relative path: (kind, bytes or mode)}.

    Two equal snapshots mean the folder is byte-identical (file contents,
    folders, links and permission bits).
    """
    found: dict[str, tuple[str, bytes | int]] = {}
    if not os.path.lexists(root):
        return found
    for path in [root, *sorted(root.rglob("*"))]:
        rel = path.relative_to(root).as_posix()
        mode = path.lstat().st_mode
        if path.is_symlink():
            found[rel] = ("link", os.readlink(path).encode())
        elif path.is_dir():
            found[rel] = ("dir", mode & 0o7777)
        else:
            found[rel + ":mode"] = ("mode", mode & 0o7777)
            found[rel] = ("file", _read_anyway(path, mode))
    return found


def _read_anyway(path: Path, mode: int) -> bytes:
    """The bytes of ``path``, even if a test made it unreadable (see :func:`unreadable`)."""
    try:
        fd = os.open(path, os.O_RDONLY)   # the low-level call, which no test patches
    except PermissionError:
        os.chmod(path, mode | 0o400)
        try:
            fd = os.open(path, os.O_RDONLY)
        finally:
            os.chmod(path, mode)
    with os.fdopen(fd, "rb") as f:
        return f.read()


@contextlib.contextmanager
def unreadable(path: Path) -> Iterator[None]:
    """Make the file ``path`` unreadable for the duration; put it back after.

    Its permission bits are cleared, which is enough for an ordinary user.
    Root reads any file whatever its bits, so for root ``open`` is made to
    check the bits as the kernel checks them for the file's owner: a file
    without its owner's read bit does not open (a new file put in its place
    does, as it would for anyone).
    """
    mode = path.stat().st_mode
    path.chmod(0)
    with pytest.MonkeyPatch.context() as mp:
        if os.geteuid() == 0:
            real_open = io.open

            def refusing_open(file: Any, *args: Any, **kwargs: Any) -> Any:
                if isinstance(file, (str, os.PathLike)) and os.path.isfile(file) \
                        and not os.stat(file).st_mode & stat.S_IRUSR:
                    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
                return real_open(file, *args, **kwargs)

            mp.setattr(io, "open", refusing_open)
            mp.setattr(builtins, "open", refusing_open)
        try:
            yield
        finally:
            path.chmod(mode)


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make ``folder`` read-only for the duration (for root too, as in :func:`unreadable`)."""
    mode = folder.stat().st_mode
    folder.chmod(0o555)
    with pytest.MonkeyPatch.context() as mp:
        if os.geteuid() == 0:
            real_access = os.access

            def access(p: Any, mode: int, *args: Any, **kwargs: Any) -> bool:
                if Path(p) == folder and mode & os.W_OK:
                    return False
                return real_access(p, mode, *args, **kwargs)

            mp.setattr(os, "access", access)
        try:
            yield
        finally:
            folder.chmod(mode)


class _LoggingHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files and records each requested path on the server object."""

    def do_GET(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


class LocalServer:
    """A static file server on 127.0.0.1 serving ``root``; use as a context manager.

    ``requests`` lists the paths asked for, in order.
    """

    def __init__(self, root: Path) -> None:
        handler = functools.partial(_LoggingHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.requests = []  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        # A short poll interval makes shutdown quick.
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)

    @property
    def requests(self) -> list[str]:
        return list(self.httpd.requests)  # type: ignore[attr-defined]

    def __enter__(self) -> "LocalServer":
        self.thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def refused_url() -> str:
    """An http URL on 127.0.0.1 whose port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
