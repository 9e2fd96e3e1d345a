"""The wrong activation derivatives students write, as activations to run.

Each is an :class:`~manual.activations.Activation` with the right ``g`` and a
wrong ``g'``; running a hand-derived twin with it gives the gradient that
bug produces, which the diagnosis compares with the user's
(:mod:`compare.gradcheck.diagnose`, kinds ``activation_derivative`` and
``kink``).
"""

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from manual import activations
from manual.activations import Activation

Deriv = Callable[[NDArray], NDArray]

# g' written in terms of the activation a = g(z), which a student may feed z
# instead of a (the classic a * (1 - a) applied to the pre-activation).
OUTPUT_FORMS: dict[str, tuple[str, Deriv]] = {
    "tanh": ("1 - a**2", lambda z: 1.0 - z * z),
    "sigmoid": ("a * (1 - a)", lambda z: z * (1.0 - z)),
}


def wrong_derivatives(act: Activation) -> list[tuple[str, str, Activation]]:
    """(key, what it is in words, the activation with that g') for ``act``."""
    n, g, d = act.name, act.fn, act.deriv
    out: list[tuple[str, str, Deriv]] = [
        ("g_for_g_prime", f"{n}(z) used for {n}'(z): the activation in place of its "
                          "derivative", g),
        ("g_prime_of_activation", f"{n}'(a) with a = {n}(z): the derivative applied to the "
                                  "activation instead of the pre-activation z",
         lambda z: d(g(z))),
        ("g_prime_left_out", f"leaving {n}'(z) out of the chain rule (as if it were 1)",
         np.ones_like),
    ]
    if n in OUTPUT_FORMS and act is activations.ACTIVATIONS.get(n):
        form, fn = OUTPUT_FORMS[n]
        out.append(("output_form_of_z", f"{n}'s derivative written for the activation "
                                        f"({form}) but evaluated at the pre-activation z "
                                        f"instead of a = {n}(z)", fn))
    for other, other_act in activations.ACTIVATIONS.items():
        if other != n:
            out.append((f"{other}_derivative", f"{other}'(z) used for {n}'(z): another "
                                               "activation's derivative", other_act.deriv))
    return [(key, text, Activation(n, g, _quiet(fn), act.kink)) for key, text, fn in out]


def wrong_kink_slopes(act: Activation) -> list[tuple[str, str, Activation]]:
    """Activations whose g' at the kink is another one-sided slope than ``act``'s."""
    if act.kink is None:
        return []
    kink = act.kink
    at = float(act.deriv(np.array([kink]))[0])
    sides = {"left": float(act.deriv(np.array([kink - 1.0]))[0]),
             "right": float(act.deriv(np.array([kink + 1.0]))[0])}
    out = []
    for side, slope in sides.items():
        if slope == at:
            continue
        deriv = _pinned(act.deriv, kink, slope)
        out.append((f"{side}_slope_at_kink",
                    f"you take {act.name}'({kink:g}) = {slope:g} (the {side} slope, as with "
                    f"z {'>=' if side == 'right' else '<='} {kink:g}); the check holds a "
                    f"hand-written derivative to the documented {act.name}'({kink:g}) = "
                    f"{at:g}. Both are valid subgradients: write the one your docs state",
                    Activation(act.name, act.fn, deriv, act.kink)))
    return out


def _pinned(deriv: Deriv, kink: float, slope: float) -> Deriv:
    def pinned(z: NDArray) -> NDArray:
        return np.where(z == kink, slope, deriv(z))
    return pinned


def _quiet(fn: Deriv) -> Deriv:
    """``fn`` with floating-point warnings silenced (a wrong g' may overflow)."""
    def quiet(z: NDArray) -> NDArray:
        with np.errstate(all="ignore"):
            return np.asarray(fn(z), dtype=np.asarray(z).dtype)
    return quiet
