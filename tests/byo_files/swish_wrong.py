# mypy: ignore-errors
# (test data: written the way a student writes, without type annotations)
"""swish with a wrong derivative: the product rule's second term forgotten."""
import autograd.numpy as np


def swish(z):
    return z / (1 + np.exp(-z))


def swish_prime(z):
    return 1 / (1 + np.exp(-z))
