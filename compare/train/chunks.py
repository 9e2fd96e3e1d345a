"""How many rows a pass hands a twin at once, so that its activations stay bounded.

A pass over B rows of a network whose layers have U units in all holds a
few (B, U) arrays; the number of rows is chosen so that one such array
stays within ROW_BYTES whatever the width, and never above ``cap`` (tall
enough that numpy's matmuls run at full speed).
"""

from compare.twins import Params

# One (rows, units) array of a chunk stays within this.
ROW_BYTES = 64 * 2 ** 20


def rows_within(units: int, itemsize: int, cap: int) -> int:
    """Rows per chunk for layers of ``units`` units in all, of ``itemsize``-byte floats."""
    return max(1, min(cap, ROW_BYTES // max(1, units * itemsize)))


def chunk_rows(params: Params, cap: int) -> int:
    """:func:`rows_within` for the network ``params`` (K pairs (W (n_k, n_{k+1}), b))."""
    units = sum(int(W.shape[1]) for W, _ in params)
    return rows_within(units, params[0][0].dtype.itemsize, cap)
