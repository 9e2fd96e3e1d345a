# mypy: ignore-errors
# (test data: written the way a student writes, without type annotations)
"""A user's own activation, swish, written with autograd.numpy, and its derivative."""
import autograd.numpy as np


def swish(z):
    return z / (1 + np.exp(-z))


def swish_prime(z):
    s = 1 / (1 + np.exp(-z))
    return s + z * s * (1 - s)
