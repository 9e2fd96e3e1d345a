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
epoch), because single-sample steps of 1.0 are erratic (after 3,000 samples:
50% test accuracy at 1.0, 82% at 0.1) and the paper notes that "different
learning rates should be used".

Budget of the full reproduction (``FULL``). Measured on this project's
2-core machine while other jobs ran, for both twins in lockstep including the
per-epoch evaluation on all 70,000 images: a batch-250 epoch of the 100-unit
network takes ~10 s (800 units: ~51 s); a batch-1 epoch ~5 ms per sample,
~300 s for 60,000 (mostly autograd's per-step overhead). ``estimate_seconds``
models this; with 2 jobs, longest first, FULL comes to ~100 core-minutes and
~50 minutes of wall time (fig 3: 5 batch-1 epochs, ~26 minutes on one core;
fig 5: 7 widths x 10 epochs, ~20 core-minutes; figs 2/4/6: 12 distinct runs x
30 epochs, ~53 core-minutes): 60-75 minutes on a busy machine. ``QUICK``
(5,000 training and 2,000 test images, 2-3 epochs, 4 widths) takes 1-3 minutes.
"""

from dataclasses import dataclass, field, replace

FIGURE_NUMBERS = ("2", "3", "4", "5", "6", "7")

# The paper's network and training; every figure varies this.
PAPER_SETUP = {"activation": "sigmoid", "hidden": (100,), "init": "normal",
               "batch_size": 250, "schedule": "decay", "lr": 1.0, "decay": 0.1}
BATCH1_LR = 0.1

INIT_LABELS = {"normal": "N(0,1)", "xavier": "Xavier", "he": "He"}
ACTIVATIONS = ("sigmoid", "tanh", "relu")
CONSTANT_RATES = (0.01, 0.1, 1.0)
DECAY_LABEL = "decaying"


@dataclass(frozen=True)
class Variant:
    """One legend entry: a label and what it changes in PAPER_SETUP."""

    label: str
    settings: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Figure:
    """One paper figure.

    Attributes:
        number: "2" ... "7".
        title: what it shows.
        kind: "curves" (metrics per epoch), "hidden" (against hidden units) or
            "confusion" (figure 7).
        variants: tuple of Variant, one run each (per seed).
        epochs: epochs every run of the figure trains.
        metrics: per-epoch metric keys drawn for each variant ("curves" only).
    """

    number: str
    title: str
    kind: str
    variants: tuple
    epochs: int
    metrics: tuple = ("test_acc",)


@dataclass(frozen=True)
class Scale:
    """How big the reproduction is.

    Attributes:
        name: "full" or "quick".
        epochs: dict figure number -> epochs (figure 7 reuses figure 6's run).
        hidden_sweep: the hidden-unit counts of figure 5.
        train_subset, test_subset: images used (None = all 60,000 / 10,000).
    """

    name: str
    epochs: dict
    hidden_sweep: tuple
    train_subset: int = None
    test_subset: int = None


FULL = Scale("full", epochs={"2": 30, "3": 5, "4": 30, "5": 10, "6": 30},
             hidden_sweep=(10, 25, 50, 100, 200, 400, 800))
QUICK = Scale("quick", epochs={"2": 3, "3": 2, "4": 3, "5": 2, "6": 3},
              hidden_sweep=(10, 50, 100, 400), train_subset=5000, test_subset=2000)


def adjust(scale, epochs=None, train_subset=None, test_subset=None):
    """``scale`` with every figure's epochs and/or the data subsets replaced."""
    if epochs is not None:
        scale = replace(scale, epochs={k: epochs for k in scale.epochs})
    if train_subset is not None:
        scale = replace(scale, train_subset=train_subset)
    if test_subset is not None:
        scale = replace(scale, test_subset=test_subset)
    return scale


def activation_label(activation, init):
    return f"{activation}, {INIT_LABELS[init]}"


def rate_label(lr):
    return f"constant {lr:g}"


def hidden_label(units):
    return f"{units} hidden"


def figures(scale):
    """Return dict number -> Figure for ``scale``."""
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
    config: object  # compare.train.trainer.TrainConfig


def make_config(settings, epochs, seed, scale):
    """The TrainConfig of PAPER_SETUP changed by ``settings``."""
    from compare.train.trainer import TrainConfig  # the trainer pulls in both twins
    fields = dict(PAPER_SETUP, **settings)
    return TrainConfig(**fields, epochs=epochs, seed=seed,
                       train_subset=scale.train_subset, test_subset=scale.test_subset)


def plan(numbers, scale, seeds=1):
    """The runs that figures ``numbers`` need: every variant at seeds 0..seeds-1.

    Returns:
        list of Run, in figure, variant, seed order (duplicates across
        figures included; the runner trains each configuration once).
    """
    table = figures(scale)
    return [Run(n, v.label, seed, make_config(v.settings, table[n].epochs, seed, scale))
            for n in numbers for v in table[n].variants for seed in range(seeds)]


def estimate_seconds(config):
    """Rough seconds to train ``config`` with both twins (see the budget above).

    Per epoch: training plus evaluation grow with images x width (1e-6 s per
    image and unit, the pair, measured); every step adds ~5 ms of Python
    overhead for the pair, which is what dominates batch 1.
    """
    n = config.train_subset or 60_000
    n_test = config.test_subset or 10_000
    steps = -(-n // (config.batch_size or n))
    width = sum(config.hidden) + 10
    return config.epochs * ((n + n_test) * width * 1e-6 + steps * 5e-3)


def estimate_wall_seconds(configs, jobs):
    """Wall time of training ``configs`` on ``jobs`` workers, longest first.

    Greedy: each run goes to the worker that frees up first, as the runner does.
    """
    free = [0.0] * max(1, jobs)
    for cost in sorted((estimate_seconds(c) for c in configs), reverse=True):
        free[free.index(min(free))] += cost
    return max(free)
