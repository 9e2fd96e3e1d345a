"""The one minibatch order both twins see.

The order depends only on ``(seed, epoch)``, never on how many random numbers
anything else drew, so the two twins in lockstep, a resumed run and an
uninterrupted run all see the same batches in the same order.
"""

import numpy as np
import numpy.typing as npt


def epoch_permutation(n: int, seed: int, epoch: int) -> npt.NDArray[np.int64]:
    """Return the shuffled sample order for one epoch.

    Args:
        n: number of samples.
        seed: the run's seed.
        epoch: zero-based epoch index.
    Returns:
        int64 array (n,), a permutation of ``range(n)``.
    """
    # A child stream per (seed, epoch): independent of any other draw.
    rng = np.random.default_rng([int(seed), int(epoch), 0xBA7C4])
    return rng.permutation(n)


def batch_indices(n: int, batch_size: int | None, seed: int, epoch: int
                  ) -> list[npt.NDArray[np.int64]]:
    """Split one epoch's permutation into minibatches.

    Args:
        n: number of samples.
        batch_size: samples per batch; ``None`` or ``n`` means the whole set.
        seed, epoch: as in :func:`epoch_permutation`.
    Returns:
        list of int64 arrays, each (batch_size,), the last possibly shorter.
    """
    if batch_size is None or batch_size >= n:
        batch_size = n
    order = epoch_permutation(n, seed, epoch)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]
