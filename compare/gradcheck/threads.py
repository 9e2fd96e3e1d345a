"""One BLAS thread while a user's function is checked.

A check calls the user's ``loss_and_grads`` a hundred times or more, each
time on small products (a batch of 32 against a 784 x 100 layer). A second
BLAS thread gains nothing there, and costs a great deal when the other core
is busy: each product then waits for a thread that is not running. So the
check runs with one thread and gives the BLAS its count back afterwards.
"""

import contextlib
from collections.abc import Iterator

from threadpoolctl import threadpool_limits


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the body with the BLAS on one thread; its thread count is restored afterwards."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield
