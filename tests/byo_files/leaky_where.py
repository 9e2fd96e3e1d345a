# mypy: ignore-errors
# (test data: written the way a student writes, without type annotations)
"""A leaky relu of one's own, written with plain numpy's np.where: right, but
autograd cannot follow np.where on plain numpy."""
import numpy as np

leaky_kink = 0.0


def leaky(z):
    return np.where(z > 0, z, 0.05 * z)


def leaky_prime(z):
    return np.where(z > 0, 1.0, 0.05)
