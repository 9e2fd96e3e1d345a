"""Which function is the user's loss? Fitted, then tested, against the paper's.

A user's loss may be the paper network's mean cross-entropy, its sum over the
batch, or either plus an L2 penalty. The model

    L_user(theta) = a L_paper(theta) + sum_t (mu_t / 2) ||theta_t||^2 + c

(one ``mu_t`` per tensor W1, b1, W2, ...) is fitted by least squares to the
user's loss at a few points and then tested at fresh points. When it holds to
rounding, the user's loss *is* that function, and its gradient is known per
element from the paper loss's (cheap, structured) finite differences and the
twins' gradients: ``a grad L_paper + mu_t theta_t``. When it does not hold,
the user's loss is differentiated as a black box.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from compare.gradcheck import tolerance as T

Tensors = list[NDArray[np.float64]]
LossOf = Callable[[Tensors], float]

# Rounding the fit allows for: this many eps of the loss's size (the user's
# loss and the paper's are each a few roundings of a sum over the batch).
FIT_ULPS = 256.0
# Fresh points the fitted model must predict, besides those it was fitted on.
HOLDOUT = 3
# Size of the random moves, relative to each tensor's root-mean-square.
MOVE = 0.3


@dataclass
class LossModel:
    """The fitted relation between the user's loss and the paper's.

    Attributes:
        names: tensor names [W1, b1, ...].
        fits: the model predicts the user's loss at every point to rounding.
        scale: ``a``.
        penalty: ``mu_t`` per tensor (0 for none).
        offset: ``c``.
        max_residual: largest |prediction - user's loss| over all points.
        tolerance: what that residual had to meet.
        points: how many points the user's loss was evaluated at.
        user_loss, paper_loss: the two losses at the checked point.
    """

    names: list[str]
    fits: bool
    scale: float = 1.0
    penalty: list[float] = field(default_factory=list)
    offset: float = 0.0
    max_residual: float = 0.0
    tolerance: float = 0.0
    points: int = 0
    user_loss: float = 0.0
    paper_loss: float = 0.0

    @property
    def equals_paper(self) -> bool:
        """The user's loss is the paper network's loss itself."""
        return self.fits and self.scale == 1.0 and not any(self.penalty) and self.offset == 0.0

    def gradient(self, paper: Tensors, tensors: Tensors) -> Tensors:
        """The user's loss gradient from the paper loss's: a g + mu_t theta_t."""
        return [self.scale * g + mu * theta for g, mu, theta in zip(paper, self.penalty, tensors)]

    def to_paper(self, analytic: Tensors, tensors: Tensors) -> Tensors:
        """The inverse of :meth:`gradient`: (A - mu_t theta_t) / a (same shapes only)."""
        return [(A - mu * theta) / self.scale if A.shape == theta.shape else A
                for A, mu, theta in zip(analytic, self.penalty, tensors)]

    def describe(self) -> str:
        """The fitted formula in words, e.g. ``the paper's loss + 0.0005 ||W1||^2``."""
        if not self.fits:
            return (f"not the paper network's loss, nor a multiple of it plus an L2 penalty "
                    f"(at the checked point yours is {self.user_loss:.10g}, the paper's "
                    f"{self.paper_loss:.10g}; the best such fit misses by "
                    f"{self.max_residual:.1e})")
        if self.equals_paper:
            return "the paper network's loss (mean softmax cross-entropy)"
        terms = ["the paper network's loss" if self.scale == 1.0 else
                 f"{_number(self.scale)} x the paper network's loss"]
        terms += [f"{_number(mu / 2)} ||{name}||^2"
                  for name, mu in zip(self.names, self.penalty) if mu]
        if self.offset:
            terms.append(f"{self.offset:.6g}")
        return " + ".join(terms).replace("+ -", "- ")

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {"fits": self.fits, "equals_paper": self.equals_paper, "scale": self.scale,
                "penalty": dict(zip(self.names, self.penalty)), "offset": self.offset,
                "max_residual": self.max_residual, "tolerance": self.tolerance,
                "points": self.points, "formula": self.describe()}


def _number(x: float) -> str:
    return f"{x:.6g}"


def fit_loss_model(user_loss: LossOf, paper_loss: LossOf, tensors: Tensors, names: list[str],
                   batch: int, seed: int = 0,
                   at_point: tuple[float, float] | None = None) -> LossModel:
    """Fit and test :class:`LossModel` on the user's loss around ``tensors``.

    Points: the given one; one per tensor with only that tensor moved; two
    with every tensor moved (the fit), and :data:`HOLDOUT` more (the test).

    Args:
        user_loss, paper_loss: tensors [W1, b1, ...] -> loss.
        tensors: the point, [W1, b1, ...].
        batch: the batch size (scales that are a whole multiple of it are
            snapped to it exactly).
        at_point: (user's loss, paper's loss) at ``tensors`` when the caller
            has them already (each user call costs a forward and a backward pass).
    Returns:
        LossModel (``fits`` False when the model misses any point).
    """
    rng = np.random.default_rng([int(seed), 0x1055])
    size = [max(float(np.sqrt(np.mean(t * t))), 1e-2) if t.size else 1e-2 for t in tensors]

    def moved(which: list[int]) -> Tensors:
        return [t + MOVE * size[i] * rng.standard_normal(t.shape) if i in which else t
                for i, t in enumerate(tensors)]

    everything = list(range(len(tensors)))
    points = [list(tensors)] + [moved([i]) for i in everything] + [moved(everything)
                                                                   for _ in range(2)]
    holdout = [moved(everything) for _ in range(HOLDOUT)]
    known = [at_point] if at_point is not None else []
    rest = (points + holdout)[len(known):]
    user = np.array([u for u, _ in known] + [user_loss(p) for p in rest])
    paper = np.array([q for _, q in known] + [paper_loss(p) for p in rest])
    design = np.array([[paper[i]] + [0.5 * float(np.sum(t * t)) for t in p] + [1.0]
                       for i, p in enumerate(points + holdout)])
    tolerance = FIT_ULPS * T.EPS * max(1.0, float(np.abs(user).max()))
    n_fit = len(points)
    coef = _solve(design[:n_fit], user[:n_fit])
    coef = _snap(coef, design, user, tolerance, batch)
    residual = float(np.abs(design @ coef - user).max())
    return LossModel(names=list(names), fits=residual <= tolerance, scale=float(coef[0]),
                     penalty=[float(m) for m in coef[1:-1]], offset=float(coef[-1]),
                     max_residual=residual, tolerance=tolerance, points=len(user),
                     user_loss=float(user[0]), paper_loss=float(paper[0]))


def _solve(design: NDArray, target: NDArray) -> NDArray:
    """Least squares with the columns scaled to unit size (they differ by decades)."""
    norms = np.linalg.norm(design, axis=0)
    norms[norms == 0] = 1.0
    coef = np.linalg.lstsq(design / norms, target, rcond=None)[0]
    return coef / norms


def _snap(coef: NDArray, design: NDArray, target: NDArray, tolerance: float,
          batch: int) -> NDArray:
    """Round the coefficients to the values they stand for, where that still fits.

    a to 1 or the batch size; mu_t and c to 0 when their terms are below
    rounding. Each rounding is kept only if the model still fits everywhere.
    """
    def fits(c: NDArray) -> bool:
        return bool(np.abs(design @ c - target).max() <= tolerance)

    out = coef.copy()
    for value in (1.0, float(batch), 1.0 / batch):
        trial = out.copy()
        trial[0] = value
        if fits(_refit(trial, design, target, fixed=[0])):
            out = _refit(trial, design, target, fixed=[0])
            break
    fixed = [0]
    for i in range(1, len(out)):
        trial = out.copy()
        trial[i] = 0.0
        refit = _refit(trial, design, target, fixed=fixed + [i])
        if fits(refit):
            out = refit
            fixed.append(i)
    return out


def _refit(coef: NDArray, design: NDArray, target: NDArray, fixed: list[int]) -> NDArray:
    """Refit the free coefficients with those in ``fixed`` held at their values."""
    free = [i for i in range(len(coef)) if i not in fixed]
    out = coef.copy()
    if free:
        rest = target - design[:, fixed] @ coef[fixed]
        out[free] = _solve(design[:, free], rest)
    return out
