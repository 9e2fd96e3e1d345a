"""Small generated data sets and a local HTTP server for the data-pipeline tests.

Nothing here touches the network beyond 127.0.0.1: ``isolate`` points the
cache at a temporary folder, turns the public mirrors and the registry off,
and makes any connection to another host fail the test.
"""

import functools
import gzip
import hashlib
import http.server
import socket
import threading

import numpy as np

from compare.data import datasets
from compare.data.datasets import DatasetSpec, FileSpec
from compare.data.idx import encode_idx

IMAGE_SHAPE = (4, 5)
N_CLASSES = 3


def make_arrays(seed=0, n_train=24, n_test=9):
    """Random uint8 images (n, 4, 5) and labels (n,) in 0..2 for both splits."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        arrays[(split, "images")] = rng.integers(0, 256, (n,) + IMAGE_SHAPE, dtype=np.uint8)
        arrays[(split, "labels")] = rng.integers(0, N_CLASSES, n, dtype=np.uint8)
    return arrays


def gz_bytes(array):
    """The .gz bytes of an array's IDX file (deterministic: mtime 0)."""
    return gzip.compress(encode_idx(array), mtime=0)


def make_spec(arrays, name="tiny", **changes):
    """A DatasetSpec whose checksums and counts are computed from ``arrays``."""
    names = {("train", "images"): "train-images-idx3-ubyte",
             ("train", "labels"): "train-labels-idx1-ubyte",
             ("test", "images"): "t10k-images-idx3-ubyte",
             ("test", "labels"): "t10k-labels-idx1-ubyte"}
    files = {}
    for key, fname in names.items():
        gz = gz_bytes(arrays[key])
        files[key] = FileSpec(fname, len(encode_idx(arrays[key])), len(gz),
                              hashlib.sha256(gz).hexdigest())
    spec = DatasetSpec(
        name=name, title="tiny test set", class_names=("a", "b", "c"), files=files,
        class_counts={s: tuple(int(c) for c in np.bincount(arrays[(s, "labels")],
                                                           minlength=N_CLASSES))
                      for s in datasets.SPLITS},
        first_train_labels=tuple(int(v) for v in arrays[("train", "labels")][:10]),
        train_pixels_sha256=datasets.pixel_sha256(arrays[("train", "images")]),
        image_shape=IMAGE_SHAPE,
    )
    return spec.replace(**changes) if changes else spec


def write_folder(folder, spec, arrays, compress=True):
    """Write the four IDX files of ``arrays`` into ``folder`` (.gz or raw)."""
    folder.mkdir(parents=True, exist_ok=True)
    for key, fspec in spec.files.items():
        data = encode_idx(arrays[key])
        if compress:
            (folder / f"{fspec.name}.gz").write_bytes(gzip.compress(data, mtime=0))
        else:
            (folder / fspec.name).write_bytes(data)
    return folder


def isolate(monkeypatch, tmp_path):
    """Cache in tmp_path/cache, no public mirrors, no registry, no host but 127.0.0.1."""
    monkeypatch.setenv("TWINPROP_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("TWINPROP_MIRRORS", "")
    monkeypatch.setenv("TWINPROP_REGISTRY", "off")
    real = socket.create_connection

    def local_only(address, *args, **kwargs):
        if address[0] not in ("127.0.0.1", "localhost"):
            raise AssertionError(f"a test tried to reach {address[0]}")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", local_only)
    return tmp_path / "cache"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class LocalServer:
    """A static file server on 127.0.0.1 serving ``root``; use as a context manager."""

    def __init__(self, root):
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        # A short poll interval makes shutdown quick.
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def refused_url():
    """An http URL on 127.0.0.1 whose port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
