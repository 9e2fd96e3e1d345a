"""Checkpoints: every twin's parameters and the trainer's state in one .npz.

No pickle anywhere: the arrays are stored as plain .npy members and the
trainer state (epoch, config, metrics so far) as one JSON string held in a
unicode array, so ``np.load(..., allow_pickle=False)`` reads it all back.
JSON round-trips Python floats exactly, so resumed metrics equal the originals.
"""

import json
import zipfile

import numpy as np

from compare.atomic import atomic_path
from compare.common.errors import ConfigError

CHECKPOINT_NAME = "checkpoint.npz"
FORMAT_VERSION = 1
_STATE_KEY = "trainer_state_json"


def _key(twin, layer, part):
    return f"{twin}.{layer}.{part}"


def save_checkpoint(path, params_by_twin, state):
    """Atomically write ``params_by_twin`` and ``state`` to ``path``.

    Args:
        path: destination .npz file.
        params_by_twin: dict twin name -> list of (W (n_in, n_out), b (n_out,)).
        state: JSON-serialisable dict (epoch, config, metrics, ...).
    """
    arrays = {}
    for twin, params in params_by_twin.items():
        for layer, (W, b) in enumerate(params):
            arrays[_key(twin, layer, "W")] = np.asarray(W)
            arrays[_key(twin, layer, "b")] = np.asarray(b)
    full_state = dict(state, format=FORMAT_VERSION, twins=list(params_by_twin),
                      n_layers=len(next(iter(params_by_twin.values()))))
    arrays[_STATE_KEY] = np.array(json.dumps(full_state))
    with atomic_path(path) as tmp:
        # A file object, not a name: np.savez would append ".npz" to the name.
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)


def load_checkpoint(path):
    """Read a checkpoint written by :func:`save_checkpoint`.

    Returns:
        (params_by_twin, state): dict twin -> list of (W, b), and the state dict.
    Raises:
        ConfigError if the file is missing, unreadable or of another format.
    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            state = json.loads(str(npz[_STATE_KEY]))
            if state.get("format") != FORMAT_VERSION:
                raise ConfigError(f"checkpoint {path} has format {state.get('format')!r}, "
                                  f"not {FORMAT_VERSION}; start a new run without --resume")
            params_by_twin = {
                twin: [(npz[_key(twin, i, "W")], npz[_key(twin, i, "b")])
                       for i in range(state["n_layers"])]
                for twin in state["twins"]
            }
    except FileNotFoundError:
        raise ConfigError(f"no checkpoint at {path}; start a new run without --resume") from None
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as err:
        raise ConfigError(f"checkpoint {path} is unreadable ({type(err).__name__}: {err}); "
                          f"start a new run without --resume") from None
    return params_by_twin, state
