"""The paper's studies: for each figure, the training runs that redraw it.

The paper's network (section 2.2 and 3.1): 784-100-10, weights drawn from
N(0, 1), biases zero, sigmoid hidden units, softmax cross-entropy, minibatches
of 250 and the decaying learning rate ("all future trials consist of this
decaying learning rate"). Each figure changes one thing:

- fig 2: batch 250;  fig 3: batch 1 (no minibatches)
- fig 4: constant rates 0.01, 0.1, 1.0 against the decaying rate
- fig 5: hidden units 10 ... 800 (test accuracy and seconds per epoch)
- fig 6: sigmoid, tanh, relu with N(0, 1); and, beyond the paper, with Xavier
  and He initialisation, to test its guess that relu lags because of the init
- fig 7: the tanh network of fig 6 (N(0, 1)): its test-set confusion matrix

Runs that are the same configuration (fig 2's run is also fig 4's decaying
rate and fig 6's sigmoid) share one cache entry, so they train once.

Where the paper is silent we chose, and say so: the decaying rate is
1.0 / (1 + 0.1 epoch) (it starts at the best constant rate, 1.0, "making large
motions at the beginning and refining later"); batch 1 uses 0.1 / (1 + 0.1
epoch), because single-sample steps of 1.0 are erratic and the paper notes
that "different learning rates should be used" (docs/reproduce.md gives the
measurements behind both choices and the time each scale takes).
"""

from dataclasses import dataclass, field, replace
from typing import Any

from compare.train.config import TrainConfig, catalog_sizes

FIGURE_NUMBERS = ("2", "3", "4", "5", "6", "7")

# The paper's network and training; every figure varies this.
PAPER_SETUP: dict[str, Any] = {"activation": "sigmoid", "hidden": (100,), "init": "normal",
                               "batch_size": 250, "schedule": "decay", "lr": 1.0,
                               "decay": 0.1}
BATCH1_LR = 0.1
DATASET = "mnist"

INIT_LABELS = {"normal": "N(0,1)", "xavier": "Xavier", "he": "He"}
ACTIVATIONS = ("sigmoid", "tanh", "relu")
CONSTANT_RATES = (0.01, 0.1, 1.0)
DECAY_LABEL = "decaying"

# The cost model that orders the runs, longest first: an epoch costs one unit
# per image and neuron it passes through (training and evaluation alike),
# plus a fixed overhead per SGD step, in the same units. Only the ratio
# matters; docs/reproduce.md has the timings it comes from.
STEP_COST = 5000.0


@dataclass(frozen=True)
class Variant:
    """One legend entry: a label and what it changes in PAPER_SETUP."""

    label: str
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Figure:
    """One paper figure.

    Attributes:
        number: "2" ... "7".
        title: what it shows.
        kind: "curves" (metrics per epoch), "hidden" (against hidden units) or
            "confusion" (figure 7).
        variants: one Variant per run (per seed).
        epochs: epochs every run of the figure trains.
        metrics: per-epoch metric keys drawn for each variant ("curves" only).
    """

    number: str
    title: str
    kind: str
    variants: tuple[Variant, ...]
    epochs: int
    metrics: tuple[str, ...] = ("test_acc",)


@dataclass(frozen=True)
class Scale:
    """How big the reproduction is.

    Attributes:
        name: "full" or "quick".
        epochs: figure number -> epochs (figure 7 reuses figure 6's run).
        hidden_sweep: the hidden-unit counts of figure 5.
        train_subset, test_subset: images used (None = the whole split).
    """

    name: str
    epochs: dict[str, int]
    hidden_sweep: tuple[int, ...]
    train_subset: int | None = None
    test_subset: int | None = None


FULL = Scale("full", epochs={"2": 30, "3": 5, "4": 30, "5": 10, "6": 30},
             hidden_sweep=(10, 25, 50, 100, 200, 400, 800))
QUICK = Scale("quick", epochs={"2": 3, "3": 2, "4": 3, "5": 2, "6": 3},
              hidden_sweep=(10, 50, 100, 400), train_subset=5000, test_subset=2000)


def adjust(scale: Scale, epochs: int | None = None, train_subset: int | None = None,
           test_subset: int | None = None) -> Scale:
    """``scale`` with every figure's epochs and/or the data subsets replaced."""
    if epochs is not None:
        scale = replace(scale, epochs={k: epochs for k in scale.epochs})
    if train_subset is not None:
        scale = replace(scale, train_subset=train_subset)
    if test_subset is not None:
        scale = replace(scale, test_subset=test_subset)
    return scale


def activation_label(activation: str, init: str) -> str:
    """Legend label of figure 6's curve for ``activation`` with ``init``."""
    return f"{activation}, {INIT_LABELS[init]}"


def rate_label(lr: float) -> str:
    """Legend label of figure 4's curve for the constant rate ``lr``."""
    return f"constant {lr:g}"


def hidden_label(units: int) -> str:
    """Legend label of figure 5's point for ``units`` hidden units."""
    return f"{units} hidden"


def figures(scale: Scale) -> dict[str, Figure]:
    """Every figure at ``scale``, by number."""
    e = scale.epochs
    act_variants = tuple(
        Variant(activation_label(a, init), {"activation": a, "init": init})
        for init in INIT_LABELS for a in ACTIVATIONS)
    return {
        "2": Figure("2", "Train and test accuracy with minibatches of 250", "curves",
                    (Variant("batch 250"),), e["2"], ("train_acc", "test_acc")),
        "3": Figure("3", "Train and test accuracy without minibatches (batch 1)", "curves",
                    (Variant("batch 1", {"batch_size": 1, "lr": BATCH1_LR}),), e["3"],
                    ("train_acc", "test_acc")),
        "4": Figure("4", "Constant learning rates against the decaying rate, batch 250",
                    "curves",
                    tuple(Variant(rate_label(lr), {"schedule": "constant", "lr": lr})
                          for lr in CONSTANT_RATES) + (Variant(DECAY_LABEL),),
                    e["4"]),
        "5": Figure("5", "Test accuracy and seconds per epoch against hidden units (sigmoid)",
                    "hidden",
                    tuple(Variant(hidden_label(h), {"hidden": (h,)})
                          for h in scale.hidden_sweep), e["5"]),
        "6": Figure("6", "Activation functions, with N(0,1), Xavier and He initialisation",
                    "curves", act_variants, e["6"]),
        "7": Figure("7", "Confusion matrix of the tanh network on the test set", "confusion",
                    (Variant(activation_label("tanh", "normal"),
                             {"activation": "tanh", "init": "normal"}),), e["6"]),
    }


@dataclass(frozen=True)
class Run:
    """One training run of one figure: a variant at one seed."""

    figure: str
    label: str
    seed: int
    config: TrainConfig


def make_config(settings: dict[str, Any], epochs: int, seed: int, scale: Scale) -> TrainConfig:
    """The TrainConfig of PAPER_SETUP changed by ``settings``."""
    fields = dict(PAPER_SETUP, **settings)
    return TrainConfig(**fields, dataset=DATASET, epochs=epochs, seed=seed,
                       train_subset=scale.train_subset, test_subset=scale.test_subset)


def plan(numbers: "tuple[str, ...] | list[str]", scale: Scale, seeds: int = 1) -> list[Run]:
    """The runs that figures ``numbers`` need: every variant at seeds 0..seeds-1.

    Returns:
        Runs in figure, variant, seed order (duplicates across figures
        included; the runner trains each configuration once).
    """
    table = figures(scale)
    return [Run(n, v.label, seed, make_config(v.settings, table[n].epochs, seed, scale))
            for n in numbers for v in table[n].variants for seed in range(seeds)]


def relative_cost(config: TrainConfig) -> float:
    """How long ``config`` takes to train, in the units of STEP_COST (for ordering only).

    The images are its subsets, or its data set's whole splits (from the catalog).
    """
    sizes = catalog_sizes(config.dataset)
    n = config.train_subset or sizes.n_train
    n_eval = n + (config.test_subset or sizes.n_test)
    steps = -(-n // (config.batch_size or n))
    neurons = sum(config.hidden) + sizes.n_classes
    return config.epochs * (n_eval * neurons + steps * STEP_COST)
