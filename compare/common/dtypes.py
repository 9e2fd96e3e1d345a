"""The float types a network can be trained and checked in, named once."""

import numpy as np

from compare.common.errors import ConfigError

# float64 first: the default, and the only precision the gradient checks use.
DTYPES = ("float64", "float32")


def check_dtype(dtype: object) -> np.dtype:
    """Return ``dtype`` as a numpy dtype, or raise ConfigError if it is not one of DTYPES."""
    try:
        resolved = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        resolved = None
    if resolved is None or resolved.name not in DTYPES:
        raise ConfigError(f"unsupported dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    return resolved
