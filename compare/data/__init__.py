"""The one data pipeline every twin trains and is checked on.

``idx`` reads and writes IDX files; ``datasets`` is the catalog (names,
files, checksums, facts); ``cache``, ``fetch`` and ``safe_pickle`` get the
files and vouch for them; ``load`` turns them into arrays; ``batches`` is the
only source of batch order.
"""

from compare.data.load import Dataset, load_dataset

__all__ = ["Dataset", "load_dataset"]
