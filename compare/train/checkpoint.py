"""Checkpoints: every twin's parameters and the trainer's state in one .npz.

No pickle anywhere: the arrays are stored as plain .npy members and the
trainer state (epoch, config, metrics so far) as one JSON string held in a
unicode array, so ``np.load(..., allow_pickle=False)`` reads it all back.
JSON round-trips Python floats exactly, so resumed metrics equal the originals.

:func:`load_checkpoint` checks the file's own form (readable, every member
there and nothing else, arrays of float matrices and vectors);
:mod:`compare.train.run_state` checks what it holds against the run's config.
"""

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from compare.atomic import UnreadableArchive, read_npz, write_npz
from compare.common.errors import ConfigError
from compare.twins import Params

CHECKPOINT_NAME = "checkpoint.npz"
FORMAT_VERSION = 1
_STATE_KEY = "trainer_state_json"


def damaged(path: "str | os.PathLike[str]", why: str) -> ConfigError:
    """The one-line error for a run file that cannot be used, with the ways out."""
    return ConfigError(f"{path} {why}; nothing was changed: restore it from a copy, or start "
                       f"the run again with --force (or another --out)")


def _key(twin: str, layer: int, part: str) -> str:
    return f"{twin}.{layer}.{part}"


def save_checkpoint(path: "str | os.PathLike[str]", params_by_twin: dict[str, Params],
                    state: dict[str, Any]) -> None:
    """Atomically write ``params_by_twin`` and ``state`` to ``path``.

    Args:
        path: destination .npz file.
        params_by_twin: dict twin name -> list of (W (n_in, n_out), b (n_out,)).
        state: JSON-serialisable dict (epoch, config, metrics, ...).
    """
    arrays: dict[str, Any] = {}
    for twin, params in params_by_twin.items():
        for layer, (W, b) in enumerate(params):
            arrays[_key(twin, layer, "W")] = np.asarray(W)
            arrays[_key(twin, layer, "b")] = np.asarray(b)
    full_state = dict(state, format=FORMAT_VERSION, twins=list(params_by_twin),
                      n_layers=len(next(iter(params_by_twin.values()))))
    arrays[_STATE_KEY] = np.array(json.dumps(full_state))
    write_npz(path, arrays)


def load_checkpoint(path: "str | os.PathLike[str]") -> tuple[dict[str, Params], dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint` and check its form.

    Returns:
        (params_by_twin, state): dict twin -> list of (W (n_k, n_{k+1}),
        b (n_{k+1},)), and the state dict (with ``twins``, ``n_layers``, ``epoch``,
        ``config``, ``metrics``; only the first two are checked here).
    Raises:
        ConfigError if the file is missing, unreadable, of another format or
        not of the form save_checkpoint writes.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"no checkpoint at {path}; start a new run without --resume")
    try:
        members = read_npz(path)
    except UnreadableArchive as err:
        raise damaged(path, str(err)) from None
    state = _state(path, members.pop(_STATE_KEY, None))
    if 2 * state["n_layers"] * len(state["twins"]) > len(members):
        # Before the expected names are listed: an edited n_layers may be huge.
        raise damaged(path, f"names {state['n_layers']} layers of {state['twins']} in its "
                            f"state, but holds only {len(members)} arrays")
    expected = {_key(t, k, part) for t in state["twins"] for k in range(state["n_layers"])
                for part in "Wb"}
    if set(members) != expected:
        missing, extra = sorted(expected - set(members)), sorted(set(members) - expected)
        raise damaged(path, f"does not hold the arrays its state names ({state['n_layers']} "
                            f"layers of {state['twins']}: missing {missing}, unexpected {extra})")
    for name, array in members.items():
        ndim = 2 if name.endswith(".W") else 1
        if array.ndim != ndim or array.dtype.kind != "f":
            raise damaged(path, f"has {name} of shape {array.shape} and dtype {array.dtype}, "
                                f"not a {ndim}-D float array")
    params = {t: [(members[_key(t, k, "W")], members[_key(t, k, "b")])
                  for k in range(state["n_layers"])] for t in state["twins"]}
    return params, state


def check_twin_list(twins: object, path: Path) -> None:
    """A run file's twins must be a non-empty list of distinct names."""
    if (not isinstance(twins, list) or not twins or not all(isinstance(t, str) for t in twins)
            or len(set(twins)) != len(twins)):
        raise damaged(path, f"names its twins {twins!r}, not a list of distinct names")


def _state(path: Path, raw: "np.ndarray | None") -> dict[str, Any]:
    """The trainer state stored in ``raw``, with its format, twins and n_layers checked."""
    if raw is None or raw.shape != () or raw.dtype.kind != "U":
        raise damaged(path, "has no trainer state")
    try:
        state = json.loads(str(raw))
    except ValueError as err:
        raise damaged(path, f"has an unreadable trainer state ({err})") from None
    if not isinstance(state, dict):
        raise damaged(path, "has a trainer state that is not an object")
    if state.get("format") != FORMAT_VERSION:
        raise ConfigError(f"checkpoint {path} has format {state.get('format')!r}, "
                          f"not {FORMAT_VERSION}; start a new run without --resume")
    twins, n_layers = state.get("twins"), state.get("n_layers")
    check_twin_list(twins, path)
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
        raise damaged(path, f"has n_layers {n_layers!r}, not a whole number >= 1")
    return state
