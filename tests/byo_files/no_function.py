"""Unusable: the function has another name."""


def loss_and_gradients(params, X, y, activation="tanh"):
    raise NotImplementedError
