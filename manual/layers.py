"""Forward/backward pairs for one layer, each with an explicit cache.

Each ``*_forward`` returns ``(out, cache)``; the matching ``*_backward`` takes
the upstream gradient and that cache. Shapes: B = batch, n_in / n_out = layer
widths. Equations are the paper's backward pass, with ``x_k`` the layer's
input and ``dA`` the gradient of the loss with respect to a layer's input.
"""

from numpy.typing import NDArray

from manual.activations import Activation

AffineCache = tuple[NDArray, NDArray]
"""(x (B, n_in), W (n_in, n_out)): what the affine backward needs."""


def affine_forward(x: NDArray, W: NDArray, b: NDArray) -> tuple[NDArray, AffineCache]:
    """z = x W + b  (the paper's z_k = W_k x_k + b_k, batch in rows).

    Args:
        x: (B, n_in) layer input x_k.
        W: (n_in, n_out).
        b: (n_out,).
    Returns:
        z: (B, n_out).
        cache: (x, W) for :func:`affine_backward`.
    """
    return x @ W + b, (x, W)


def affine_backward(dz: NDArray, cache: AffineCache,
                    need_dx: bool = True) -> tuple[NDArray | None, NDArray, NDArray]:
    """Gradients of the affine map, given dz = dL/dz.

    Args:
        dz: (B, n_out), the paper's dz_k.
        cache: (x (B, n_in), W (n_in, n_out)) from :func:`affine_forward`.
        need_dx: False skips dx (the first layer's input is the data).
    Returns:
        dx: (B, n_in) or None   -- dA_k  = dz_k W_k^T
        dW: (n_in, n_out)       -- dW_k  = x_k^T dz_k
        db: (n_out,)            -- db_k  = sum over the batch of dz_k
    """
    x, W = cache
    dW = x.T @ dz                          # dW_k = x_k^T dz_k
    db = dz.sum(axis=0)                    # db_k = sum dz_k
    dx = dz @ W.T if need_dx else None     # dA_k = dz_k W_k^T
    return dx, dW, db


def activation_forward(z: NDArray, activation: Activation) -> tuple[NDArray, NDArray]:
    """a = g(z).

    Args:
        z: (B, n) pre-activation.
        activation: a :class:`manual.activations.Activation`.
    Returns:
        a: (B, n).
        cache: z, for :func:`activation_backward`.
    """
    return activation.fn(z), z


def activation_backward(da: NDArray, cache: NDArray, activation: Activation) -> NDArray:
    """dz = da * g'(z)  (the paper's dz_k = dA_{k+1} g'(z_k), elementwise).

    Args:
        da: (B, n), dA_{k+1} = dL/da, the gradient at this layer's output.
        cache: z (B, n) from :func:`activation_forward`.
        activation: the same Activation as the forward pass.
    Returns:
        dz: (B, n).
    """
    return da * activation.deriv(cache)
