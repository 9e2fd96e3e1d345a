"""Turn numpy values into the plain Python that the json module writes."""

import math
from typing import Any

import numpy as np


def to_jsonable(value: Any, nonfinite_as_none: bool = False) -> Any:
    """``value`` with arrays, numpy scalars and tuples made JSON-ready, recursively.

    Args:
        value: dicts, lists, tuples, arrays, numpy or Python scalars, nested.
        nonfinite_as_none: write NaN and inf as None (strict JSON, for files
            other programs read). The default keeps them: Python's json reads
            NaN back, and the run cache relies on it for diverged runs.
    Returns:
        The same structure of dict (str keys), list, float, int, bool, str, None.
    """
    if isinstance(value, dict):
        return {str(k): to_jsonable(v, nonfinite_as_none) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, nonfinite_as_none) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist(), nonfinite_as_none)
    if isinstance(value, np.generic):
        value = value.item()
    if nonfinite_as_none and isinstance(value, float) and not math.isfinite(value):
        return None
    return value
