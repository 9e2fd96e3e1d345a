"""``twinprop data fetch|info|show``: get, describe and look at a data set.

Every option is checked before any file is read or fetched: the data set
name, that ``--data-dir`` is a folder, that the cache folder can be written
when something must be fetched, that ``--out`` is a .png file in a folder
that can be written, and that ``--count`` lies within the split.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from compare.atomic import atomic_path, check_output_file
from compare.cli.app import whole_number
from compare.common.errors import ConfigError
from compare.data import cache, fetch
from compare.data.arrays import Arrays, fetch_into_cache, load_arrays
from compare.data.datasets import CATALOG, SPLITS, DatasetSpec, get_spec, pixel_sha256

MAX_SHOW = 400   # a 20 x 20 grid; more images would not be legible in one figure
DEFAULT_SHOW = 36


def add_parser(subparsers: Any) -> None:
    """Register ``data`` and its three subcommands."""
    parser = subparsers.add_parser("data", help="fetch, describe or show a data set",
                                   description="Fetch, describe or show a data set.")
    commands = parser.add_subparsers(dest="data_command", metavar="ACTION")
    commands.required = True

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--dataset", default="mnist", choices=sorted(CATALOG),
                       help="which data set (default: mnist)")
        p.add_argument("--data-dir", metavar="DIR", default=None,
                       help="read the four IDX files (.gz or raw) from DIR and nothing else")
        p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")

    p = commands.add_parser(
        "fetch", help="get the data set into the cache and verify every byte",
        description="Get the data set into the cache and check each file's SHA-256. Files "
                    "already cached intact are kept; a damaged one is refused unless --repair.")
    common(p)
    p.add_argument("--repair", action="store_true",
                   help="re-get the cached files that are damaged (each replaced in one "
                        "step); keep the intact ones")
    p.set_defaults(func=run_fetch)

    p = commands.add_parser("info", help="shapes, class counts, checksums, source, cache path",
                            description="Describe the data set: shapes, class counts, "
                                        "checksums, source, cache path.")
    common(p)
    p.add_argument("--json", action="store_true", help="print the description as JSON")
    p.set_defaults(func=run_info)

    p = commands.add_parser("show", help="write a PNG grid of sample images with their labels",
                            description="Write a PNG grid of sample images with their labels.")
    common(p)
    p.add_argument("--out", metavar="FILE.png", default=None,
                   help="PNG file to write (default: DATASET-samples.png)")
    p.add_argument("--split", choices=SPLITS, default="train", help="which split (default: train)")
    p.add_argument("--count", type=_count, default=None,
                   help=f"how many images, the first ones of the split: 1..{MAX_SHOW} "
                        f"(default: {DEFAULT_SHOW}, or the whole split if smaller)")
    p.set_defaults(func=run_show)


# argparse type of --count: a whole number in 1..MAX_SHOW.
_count = whole_number(1, MAX_SHOW)


def run_fetch(args: argparse.Namespace) -> int:
    """Fetch (or import from --data-dir, or --repair) into the cache; print one summary line."""
    spec = get_spec(args.dataset)
    arrays, source, got = fetch_into_cache(spec, data_dir=args.data_dir, repair=args.repair,
                                           quiet=args.quiet)
    n_train, n_test = (len(arrays[(s, "labels")]) for s in SPLITS)
    done = "; ".join(f"{verb} {', '.join(names)} from {source}"
                     for verb, names in got.items() if names) or "nothing to fetch"
    print(f"{spec.name}: {n_train} train + {n_test} test images, every file's SHA-256 "
          f"verified; {done}; cache: {cache.dataset_dir(spec)}")
    return 0


def describe(spec: DatasetSpec, arrays: Arrays, source: str) -> dict[str, Any]:
    """A JSON-ready description of a loaded data set (what ``data info`` prints)."""
    splits = {}
    for split in SPLITS:
        images, labels = arrays[(split, "images")], arrays[(split, "labels")]
        counts = np.bincount(labels, minlength=spec.n_classes)
        splits[split] = {
            "images_shape": [int(images.shape[0]), int(np.prod(images.shape[1:]))],
            "labels_shape": [int(labels.shape[0])],
            "class_counts": [int(c) for c in counts],
            "pixels_sha256": pixel_sha256(images),
            "labels_sha256": pixel_sha256(labels),
        }
    return {
        "dataset": spec.name,
        "title": spec.title,
        "source": source,
        "cache_dir": str(cache.dataset_dir(spec)),
        "cached": source.startswith("cache ") or cache.scan(spec).complete,
        "class_names": list(spec.class_names),
        "splits": splits,
        "verified": ["IDX headers and lengths", "images and labels counts",
                     "SHA-256 of each of the four files"],
    }


def run_info(args: argparse.Namespace) -> int:
    """Print the description as text or, with --json, as JSON."""
    spec = get_spec(args.dataset)
    arrays, source = load_arrays(spec, data_dir=args.data_dir, quiet=args.quiet)
    info = describe(spec, arrays, source)
    if args.json:
        json.dump(info, sys.stdout, indent=2)
        print()
        return 0
    print(f"{info['dataset']} ({info['title']})")
    print(f"  source:    {info['source']}")
    print(f"  cache:     {info['cache_dir']}{'' if info['cached'] else ' (not cached)'}")
    for split, s in info["splits"].items():
        shape = "x".join(str(d) for d in s["images_shape"])
        print(f"  {split:5}      images {shape}, labels {s['labels_shape'][0]}")
        counts = " ".join(f"{name}:{c}" for name, c in zip(info["class_names"], s["class_counts"]))
        print(f"    per class  {counts}")
        print(f"    SHA-256    pixels {s['pixels_sha256']}")
        print(f"               labels {s['labels_sha256']}")
    print(f"  verified:  {', '.join(info['verified'])}")
    return 0


def check_out(out: str) -> Path:
    """ConfigError unless ``out`` names a .png file that can be written (nothing created)."""
    path = Path(out)
    if path.suffix.lower() != ".png":
        raise ConfigError(f"--out {out} does not end in .png; name the PNG file to write")
    return check_output_file(path, "--out")


def run_show(args: argparse.Namespace) -> int:
    """Write the first ``--count`` images of a split as a labelled PNG grid."""
    spec = get_spec(args.dataset)
    out = check_out(args.out or f"{spec.name}-samples.png")
    count = args.count or min(DEFAULT_SHOW, spec.count(args.split))
    if count > spec.count(args.split):
        raise ConfigError(f"--count {args.count} is more than the {spec.count(args.split)} "
                          f"{args.split} images of {spec.name}")
    fetch.check_environment(spec)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arrays, source = load_arrays(spec, data_dir=args.data_dir, quiet=args.quiet)
    images = arrays[(args.split, "images")][:count]
    labels = arrays[(args.split, "labels")][:count]
    cols = int(np.ceil(np.sqrt(len(images))))
    rows = int(np.ceil(len(images) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.5 * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, label in zip(axes.flat, images, labels):
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(spec.class_names[int(label)], fontsize=8)
    fig.suptitle(f"{spec.name} {args.split}: first {len(images)} images", fontsize=10)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    print(f"wrote {out} ({len(images)} {args.split} images of {spec.name}, source: {source})")
    return 0
