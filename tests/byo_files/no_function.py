# mypy: ignore-errors
# (test data: written the way a student writes, without type annotations)
"""Unusable: the function has another name."""


def loss_and_gradients(params, X, y, activation="tanh"):
    raise NotImplementedError
