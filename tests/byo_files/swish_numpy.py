# mypy: ignore-errors
# (test data: written the way a student writes, without type annotations)
"""swish in plain numpy: right, but autograd cannot trace it."""
import numpy as np


def swish(z):
    return z / (1 + np.exp(-z))


def swish_prime(z):
    s = 1 / (1 + np.exp(-z))
    return s * (1 + z * (1 - s))
