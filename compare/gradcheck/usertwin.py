"""A user's ``loss_and_grads`` as one more twin: called safely, its answer checked.

The user writes::

    def loss_and_grads(params, X, y, activation="tanh"):
        # params: [(W1 (n_0, n_1), b1 (n_1,)), (W2 (n_1, n_2), b2 (n_2,)), ...]
        # X (B, n_0) floats, y (B,) integer labels
        return loss, grads        # grads: [(dW1, db1), (dW2, db2), ...]

``grads`` may also be a flat list ``[dW1, db1, dW2, db2, ...]`` or a dict
``{"W1": dW1, "b1": db1, ...}``. What cannot be used (an exception, a
return value of the wrong structure, a loss that is not a finite number) is
a :class:`~compare.gradcheck.usercode.UserCodeError` naming the file and what
to fix. A gradient of the wrong *shape* is not an error here: it is a finding
of the check, reported with the other findings.
"""

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from compare.gradcheck.usercode import UserCodeError, describe_exception, load_function
from compare.twins import Params, tensor_names

SIGNATURE = 'loss_and_grads(params, X, y, activation="tanh") -> (loss, grads)'

Tensors = list[NDArray[np.float64]]


@dataclass
class UserTwin:
    """A user's gradient function, with the bookkeeping the report needs.

    Attributes:
        fn: the user's ``loss_and_grads``.
        name: how the report names it (the file's stem, or the function's name).
        where: the file or module it came from.
        calls: how many times it was called.
        seconds: the time spent inside it.
        dtypes: the dtypes its gradients came back in.
    """

    fn: Callable[..., Any]
    name: str
    where: str
    calls: int = 0
    seconds: float = 0.0
    dtypes: set[str] = field(default_factory=set)

    def __call__(self, params: Params, X: NDArray, y: NDArray,
                 activation: object) -> tuple[float, Tensors]:
        """Call the function on copies of the inputs.

        Returns:
            (loss, [dW1, db1, dW2, db2, ...]) as float64 arrays, each of
            whatever shape the user returned.
        Raises:
            UserCodeError: it raised, or returned something unusable.
        """
        copies = [(np.array(W), np.array(b)) for W, b in params]
        start = time.perf_counter()
        try:
            out = self.fn(copies, np.array(X), np.array(y), activation)
        except Exception as err:
            raise UserCodeError(
                f"{self.where}: {self.fn.__name__} raised {describe_exception(err, self.source)} "
                f"on a {'-'.join(str(W.shape[0]) for W, _ in params)}-{params[-1][0].shape[1]} "
                f"network, a batch of {len(X)} and activation {_name(activation)!r}; fix it so "
                "that it runs on any network of that form, or choose an --activation it "
                "supports") from None
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1
        return self._unpack(out, params)

    @property
    def source(self) -> str:
        """The file the function is defined in."""
        return str(getattr(getattr(self.fn, "__code__", None), "co_filename", self.where))

    def loss(self, params: Params, X: NDArray, y: NDArray, activation: object) -> float:
        """The user's loss alone (its gradients are computed and dropped)."""
        return self(params, X, y, activation)[0]

    def _unpack(self, out: object, params: Params) -> tuple[float, Tensors]:
        """(loss, flat tensors) from what the user returned, or UserCodeError."""
        fix = f"return (loss, grads) as in {SIGNATURE}"
        if not isinstance(out, Sequence) or isinstance(out, str) or len(out) != 2:
            raise UserCodeError(f"{self.where}: {self.fn.__name__} returned "
                                f"{_what(out)}, not a pair (loss, grads); {fix}")
        loss_value, grads = out
        try:
            loss = float(np.asarray(loss_value).reshape(()))
        except (TypeError, ValueError):
            raise UserCodeError(f"{self.where}: the loss it returned is {_what(loss_value)}, "
                                f"not one number; {fix}") from None
        if not np.isfinite(loss):
            raise UserCodeError(f"{self.where}: the loss it returned is {loss}; it must be "
                                "a finite number (does it take log(0) or overflow exp?)")
        tensors = self._flatten(grads, params)
        return loss, tensors

    def _flatten(self, grads: object, params: Params) -> Tensors:
        """[dW1, db1, ...] from a list of pairs, a flat list or a dict."""
        names = tensor_names(params)
        k = len(params)
        shape_hint = (f"grads must be {k} pairs (dW, db), one per layer, or the flat list "
                      f"[{', '.join(names)}], or a dict with those keys")
        items: list[object]
        if isinstance(grads, Mapping):
            missing = [n for n in names if n not in grads]
            if missing:
                raise UserCodeError(f"{self.where}: the grads dict has no {', '.join(missing)} "
                                    f"(it has {', '.join(map(str, grads))}); {shape_hint}")
            items = [grads[n] for n in names]
        elif isinstance(grads, Sequence) and not isinstance(grads, str):
            seq = list(grads)
            if len(seq) == k and all(_is_pair(p) for p in seq):
                items = [t for pair in seq for t in pair]
            elif len(seq) == 2 * k and not any(_is_pair(p) for p in seq):
                items = seq
            else:
                raise UserCodeError(f"{self.where}: grads has {len(seq)} items for a "
                                    f"{k}-layer network; {shape_hint}")
        else:
            raise UserCodeError(f"{self.where}: grads is {_what(grads)}; {shape_hint}")
        tensors = []
        for name, item in zip(names, items):
            array = np.asarray(item)
            if array.dtype == object or not (np.issubdtype(array.dtype, np.number)
                                             or array.dtype == bool):
                raise UserCodeError(f"{self.where}: grad {name} is {_what(item)}, not an "
                                    f"array of numbers; {shape_hint}")
            if np.iscomplexobj(array):
                raise UserCodeError(f"{self.where}: grad {name} is complex; return real arrays")
            self.dtypes.add(array.dtype.name)
            tensors.append(np.array(array, dtype=np.float64))
        return tensors


def _name(activation: object) -> str:
    """An activation's name (it is a name, or an object with ``name``)."""
    return str(getattr(activation, "name", activation))


def _is_pair(item: object) -> bool:
    """A (dW, db) pair: a 2-sequence that is not itself an array of numbers."""
    return (isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 2
            and not isinstance(item, np.ndarray))


def _what(value: object) -> str:
    """A short description of a returned value for a message."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def load_user_twin(spec: str) -> UserTwin:
    """The :class:`UserTwin` a spec names (``PATH.py[:NAME]`` or ``module[:NAME]``)."""
    fn, name, where = load_function(spec, "loss_and_grads", SIGNATURE)
    label = Path(where).stem if where.endswith(".py") else where.rsplit(".", 1)[-1]
    if name != "loss_and_grads":
        label = f"{label}:{name}"
    return UserTwin(fn=fn, name=label, where=where)


def as_user_twin(fn: Callable[..., Any], name: str | None = None) -> UserTwin:
    """Wrap a function given in Python (the API) as a :class:`UserTwin`."""
    label = str(name or getattr(fn, "__name__", "yours"))
    where = str(getattr(getattr(fn, "__code__", None), "co_filename", label))
    return UserTwin(fn=fn, name=label, where=where)
