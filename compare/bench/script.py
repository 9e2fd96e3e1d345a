"""The yardstick a student would write: backprop on MNIST as a plain numpy script.

What the speed goals call "a plain numpy backprop script": one vectorised
minibatch SGD step the way textbooks and course notes write it (CS231n's
two-layer net, Nielsen's network2 with matrices), with nothing tuned:
``X[idx]`` gathers the batch, ``np.tanh`` and the paper's ``1 - a**2``,
a softmax by ``exp`` and a sum, a one-hot matrix for ``p - y``, and
``W -= lr * dW``. Not a twin: it is timed beside them, never trained with
or checked.

Shapes: X (N, n_0), y (N,), W_k (n_k, n_{k+1}), b_k (n_{k+1},).
"""

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from compare.bench.candidates import Run
from compare.common.init import init_params

Elementwise = Callable[[NDArray], NDArray]

# g(z) and g'(z) written from the output a = g(z), as textbooks do
_TEXTBOOK: dict[str, tuple[Elementwise, Elementwise]] = {
    "tanh": (np.tanh, lambda a: 1 - a ** 2),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda a: a * (1 - a)),
    "relu": (lambda z: np.maximum(z, 0), lambda a: (a > 0).astype(a.dtype)),
}
SCRIPT_ACTIVATIONS = tuple(_TEXTBOOK)


def make_numpy_script(X: NDArray, y: NDArray, sizes: Sequence[int], activation: str,
                      lr: float, seed: int) -> Run:
    """A candidate ``run(batches)``: one textbook SGD step per index array.

    Raises:
        ValueError: the script knows only tanh, sigmoid and relu.
    """
    if activation not in _TEXTBOOK:
        raise ValueError(f"the numpy script has no activation {activation!r}")
    g, g_prime_from_output = _TEXTBOOK[activation]
    params = [[W, b] for W, b in init_params(list(sizes), init="xavier", seed=seed,
                                             dtype=X.dtype)]
    n_classes = sizes[-1]

    def run(batches: Sequence[NDArray[np.int64]]) -> None:
        for idx in batches:
            xb, yb = X[idx], y[idx]
            activations = [xb]
            for W, b in params[:-1]:
                activations.append(g(activations[-1] @ W + b))
            scores = activations[-1] @ params[-1][0] + params[-1][1]
            scores -= scores.max(axis=1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=1, keepdims=True)
            loss = -np.log(probs[np.arange(len(yb)), yb]).mean()
            delta = (probs - np.eye(n_classes, dtype=X.dtype)[yb]) / len(yb)
            for k in reversed(range(len(params))):
                W, b = params[k]
                dW, db = activations[k].T @ delta, delta.sum(axis=0)
                if k:
                    delta = (delta @ W.T) * g_prime_from_output(activations[k])
                W -= lr * dW
                b -= lr * db
            float(loss)

    return run
