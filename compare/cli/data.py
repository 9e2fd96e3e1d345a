"""``twinprop data fetch|info|show``: get, describe and look at a data set."""

import json
import sys

import numpy as np

from compare.atomic import atomic_path
from compare.cli.app import positive_int
from compare.data import cache
from compare.data.datasets import CATALOG, SPLITS, get_spec, pixel_sha256
from compare.data.load import load_arrays


def add_parser(subparsers):
    """Register ``data`` and its three subcommands."""
    parser = subparsers.add_parser("data", help="fetch, describe or show a data set",
                                   description="Fetch, describe or show a data set.")
    commands = parser.add_subparsers(dest="data_command", metavar="ACTION")
    commands.required = True

    def common(p):
        p.add_argument("--dataset", default="mnist", choices=sorted(CATALOG),
                       help="which data set (default: mnist)")
        p.add_argument("--data-dir", metavar="DIR", default=None,
                       help="read the four IDX files (.gz or raw) from DIR and nothing else")
        p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")

    p = commands.add_parser("fetch", help="get the data set into the cache and verify it",
                            description="Get the data set into the cache and verify it.")
    common(p)
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
    p.add_argument("--out", metavar="FILE", default=None,
                   help="PNG file to write (default: DATASET-samples.png)")
    p.add_argument("--split", choices=SPLITS, default="train", help="which split (default: train)")
    p.add_argument("--count", type=positive_int, default=36,
                   help="how many images, the first ones of the split (default: 36)")
    p.set_defaults(func=run_show)


def run_fetch(args):
    """Fetch (or import from --data-dir) into the cache; print one summary line."""
    spec = get_spec(args.dataset)
    arrays, source = load_arrays(spec, data_dir=args.data_dir, quiet=args.quiet, store=True)
    n_train, n_test = (len(arrays[(s, "labels")]) for s in SPLITS)
    print(f"{spec.name}: {n_train} train + {n_test} test images verified; source: {source}; "
          f"cache: {cache.dataset_dir(spec)}")
    return 0


def describe(spec, arrays, source):
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
    checked = ["IDX headers and lengths", "class counts", "first train labels"]
    if spec.train_pixels_sha256:
        checked.append("train pixels SHA-256")
    return {
        "dataset": spec.name,
        "title": spec.title,
        "source": source,
        "cache_dir": str(cache.dataset_dir(spec)),
        "cached": cache.is_complete(spec),
        "class_names": list(spec.class_names),
        "splits": splits,
        "verified": checked,
    }


def run_info(args):
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


def run_show(args):
    """Write the first ``--count`` images of a split as a labelled PNG grid."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spec = get_spec(args.dataset)
    arrays, source = load_arrays(spec, data_dir=args.data_dir, quiet=args.quiet)
    images = arrays[(args.split, "images")][:args.count]
    labels = arrays[(args.split, "labels")][:args.count]
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
    out = args.out or f"{spec.name}-samples.png"
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    print(f"wrote {out} ({len(images)} {args.split} images of {spec.name}, source: {source})")
    return 0
