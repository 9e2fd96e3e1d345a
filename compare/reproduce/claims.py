"""The paper's claims, each set against what was measured, with a verdict.

Every verdict comes from a rule stated in the claim's ``rule`` text and
applied to every twin: a claim is reproduced only when it holds for each twin
(the twins should agree; when they do not, that is itself worth a look). A
claim whose figure was not run is "not measured".
"""

from dataclasses import dataclass, field

import numpy as np

from compare.reproduce import figures as F
from compare.reproduce.confusion import confused_pairs, pair_rank

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
NOT_MEASURED = "not measured"

# The thresholds the rules use, in one place.
TARGET_ACCURACY = 0.975   # "around 98%": at least 97.5%
TOLERANCE = 0.01          # "as good as", "the same", "lags": one percentage point
SLOWDOWN = 2.0            # "increases significantly": at least twice the time
TOP_PAIRS = 5             # "the most confused": among the top 5 of 45 pairs
PAPER_PAIRS = ((4, 9), (2, 7), (2, 8))


@dataclass
class Measurements:
    """What the claims are checked against.

    Attributes:
        series: dict figure number -> {label: results.Series}.
        confusion: dict twin -> confusion matrix (n_classes, n_classes) of
            figure 7's network on the test set (empty when not measured).
    """

    series: dict
    confusion: dict = field(default_factory=dict)

    def get(self, figure, label):
        return self.series.get(figure, {}).get(label)


@dataclass
class Claim:
    """One row of the claims table."""

    paper: str      # the paper's words
    figures: str    # where the paper shows it, e.g. "2, 3"
    rule: str       # how the verdict is decided
    measured: str   # what was measured, per twin
    verdict: str    # REPRODUCED, NOT_REPRODUCED or NOT_MEASURED


def pct(x):
    return "diverged" if not np.isfinite(x) else f"{100 * x:.2f}%"


def _per_twin(paper, figures, rule, twins, check):
    """Apply ``check(twin) -> (holds, text)`` to every twin and build the Claim."""
    results = [(twin, *check(twin)) for twin in twins]
    holds = bool(results) and all(ok for _, ok, _ in results)
    measured = "; ".join(f"{twin}: {text}" for twin, _, text in results)
    return Claim(paper, figures, rule, measured, REPRODUCED if holds else NOT_REPRODUCED)


def _missing(paper, figures, rule):
    return Claim(paper, figures, rule, "figure not run", NOT_MEASURED)


def _twins(*series):
    names = None
    for s in series:
        names = s.twins() if names is None else [t for t in names if t in s.twins()]
    # A diverged series has no twins; fall back to any twin seen, so it counts as failing.
    return names or next((s.twins() for s in series if s.twins()), [])


def best_accuracy(m):
    paper = "as high as around 98% test accuracy (abstract)"
    rule = (f"the best final test accuracy of the paper's configurations (N(0,1) "
            f"initialisation) is at least {pct(TARGET_ACCURACY)}")
    # Xavier and He runs are our extension, not the paper's setup.
    paper_series = [s for table in m.series.values() for s in table.values()
                    if s.settings.get("init", "normal") == "normal"]
    if not paper_series:
        return _missing(paper, "2-6", rule)

    # Shown beside the verdict, not part of it: what the same sweep reaches
    # once the initialisation is one of our extension's (Xavier, He).
    every_series = [s for table in m.series.values() for s in table.values()]

    def best(series, twin):
        finals = [(s.final(twin), s.label) for s in series if twin in s.twins()]
        return max(finals, key=lambda f: np.nan_to_num(f[0], nan=-1.0))

    def check(twin):
        acc, label = best(paper_series, twin)
        text = f"{pct(acc)} ({label})"
        any_acc, any_label = best(every_series, twin)
        if any_acc > acc:
            text += f"; with any initialisation: {pct(any_acc)} ({any_label})"
        return acc >= TARGET_ACCURACY, text
    return _per_twin(paper, "2-6", rule, _twins(*paper_series), check)


def no_batches_faster(m):
    paper = "having no batches converges much faster than a batch size of 250"
    rule = ("batch 1 has the higher test accuracy after epoch 1 and on average over the "
            "epochs both ran")
    b250, b1 = m.get("2", "batch 250"), m.get("3", "batch 1")
    if b250 is None or b1 is None:
        return _missing(paper, "2, 3", rule)

    def check(twin):
        a, b = b1.mean_std(twin, "test_acc")[0], b250.mean_std(twin, "test_acc")[0]
        n = min(len(a), len(b))
        if n == 0 or np.isnan(a[:n]).any() or np.isnan(b[:n]).any():
            return False, "a run diverged"
        holds = a[0] > b[0] and a[:n].mean() > b[:n].mean()
        return holds, (f"epoch 1: {pct(a[0])} vs {pct(b[0])}; mean of {n} epochs: "
                       f"{pct(a[:n].mean())} vs {pct(b[:n].mean())}")
    return _per_twin(paper, "2, 3", rule, _twins(b1, b250), check)


def rate_one_fastest(m):
    paper = "a learning rate of 1 seems to converge faster (than 0.01 and 0.1)"
    rule = "constant 1.0 has the highest test accuracy after epoch 1 of the constant rates"
    rates = [m.get("4", F.rate_label(lr)) for lr in F.CONSTANT_RATES]
    if any(s is None for s in rates):
        return _missing(paper, "4", rule)

    def check(twin):
        first = [s.mean_std(twin, "test_acc")[0][:1] for s in rates]
        first = [float(f[0]) if len(f) else float("nan") for f in first]
        best = int(np.argmax(np.nan_to_num(first, nan=-1.0)))
        text = ", ".join(f"{F.CONSTANT_RATES[i]:g}: {pct(a)}" for i, a in enumerate(first))
        return F.CONSTANT_RATES[best] == 1.0, f"epoch 1: {text}"
    return _per_twin(paper, "4", rule, _twins(*rates), check)


def decay_as_good(m):
    paper = "a decaying learning rate is just as competitive as a constant rate of 1"
    rule = (f"final test accuracy with the decaying rate is at most {100 * TOLERANCE:g} "
            f"percentage point below constant 1.0 (or above it)")
    decay, one = m.get("4", F.DECAY_LABEL), m.get("4", F.rate_label(1.0))
    if decay is None or one is None:
        return _missing(paper, "4", rule)

    def check(twin):
        d, c = decay.final(twin), one.final(twin)
        return bool(d >= c - TOLERANCE), f"decaying {pct(d)} vs constant 1.0 {pct(c)}"
    return _per_twin(paper, "4", rule, _twins(decay, one), check)


def _widths(m):
    """dict hidden units -> Series of figure 5."""
    return {s.settings["hidden"][0]: s for s in m.series.get("5", {}).values()}


def plateau_from_100(m):
    paper = "from about 100 hidden units on, accuracy is approximately the same"
    rule = (f"every width >= 100 ends within {100 * TOLERANCE:g} percentage point of the "
            f"100-unit network's final test accuracy")
    widths = _widths(m)
    wide = sorted(h for h in widths if h >= 100)
    if 100 not in widths or len(wide) < 2:
        return _missing(paper, "5", rule)

    def check(twin):
        finals = {h: widths[h].final(twin) for h in wide}
        spread = max(abs(finals[h] - finals[100]) for h in wide)
        text = ", ".join(f"{h}: {pct(a)}" for h, a in finals.items())
        return bool(spread <= TOLERANCE), text
    return _per_twin(paper, "5", rule, _twins(*(widths[h] for h in wide)), check)


def time_grows(m):
    paper = "with more hidden units the time to run a single epoch increases significantly"
    rule = f"the widest network's seconds per epoch are at least {SLOWDOWN:g}x the 100-unit one's"
    widths = _widths(m)
    if 100 not in widths or max(widths, default=0) <= 100:
        return _missing(paper, "5", rule)
    widest = max(widths)

    def check(twin):
        base, big = widths[100].epoch_mean(twin), widths[widest].epoch_mean(twin)
        ratio = big / base if base > 0 else float("nan")
        return bool(ratio >= SLOWDOWN), f"{base:.2f} s (100) vs {big:.2f} s ({widest}): {ratio:.1f}x"
    return _per_twin(paper, "5", rule, _twins(widths[100], widths[widest]), check)


def _activation_series(m, init="normal"):
    return {a: m.get("6", F.activation_label(a, init)) for a in F.ACTIVATIONS}


def tanh_fastest(m):
    paper = "the tanh activation converges incredibly quickly"
    rule = "with N(0,1), tanh has the highest test accuracy after epoch 1 of sigmoid, tanh, relu"
    acts = _activation_series(m)
    if any(s is None for s in acts.values()):
        return _missing(paper, "6", rule)

    def check(twin):
        first = {}
        for a, s in acts.items():
            mean = s.mean_std(twin, "test_acc")[0]
            first[a] = float(mean[0]) if len(mean) else float("nan")
        best = max(first, key=lambda a: np.nan_to_num(first[a], nan=-1.0))
        return best == "tanh", "epoch 1: " + ", ".join(f"{a} {pct(v)}" for a, v in first.items())
    return _per_twin(paper, "6", rule, _twins(*acts.values()), check)


def same_plateau(m):
    paper = "tanh and sigmoid both plateau to the same accuracy"
    rule = f"with N(0,1), their final test accuracies differ by at most {100 * TOLERANCE:g} point"
    acts = _activation_series(m)
    if acts["tanh"] is None or acts["sigmoid"] is None:
        return _missing(paper, "6", rule)

    def check(twin):
        t, s = acts["tanh"].final(twin), acts["sigmoid"].final(twin)
        return bool(abs(t - s) <= TOLERANCE), f"tanh {pct(t)}, sigmoid {pct(s)}"
    return _per_twin(paper, "6", rule, _twins(acts["tanh"], acts["sigmoid"]), check)


def relu_lags(m):
    paper = "ReLU is much farther behind with the N(0,1) initialisation"
    rule = (f"with N(0,1), relu's final test accuracy is at least {100 * TOLERANCE:g} point "
            f"below both sigmoid's and tanh's (a diverged run lags)")
    acts = _activation_series(m)
    if any(s is None for s in acts.values()):
        return _missing(paper, "6", rule)

    def check(twin):
        f = {a: acts[a].final(twin) for a in F.ACTIVATIONS}
        others = max(f["sigmoid"], f["tanh"])
        lags = (not np.isfinite(f["relu"])) or f["relu"] <= others - TOLERANCE
        return bool(lags), ", ".join(f"{a} {pct(v)}" for a, v in f.items())
    return _per_twin(paper, "6", rule, _twins(*acts.values()), check)


def relu_init(m):
    paper = "ReLU likely depends on the initialization of the weights (the paper's guess)"
    rule = (f"relu with He initialisation ends at least {100 * TOLERANCE:g} point above relu "
            f"with N(0,1), and no more than {100 * TOLERANCE:g} point below the best of "
            f"sigmoid and tanh with N(0,1)")
    normal, he = _activation_series(m), m.get("6", F.activation_label("relu", "he"))
    if he is None or any(s is None for s in normal.values()):
        return _missing(paper, "6", rule)

    def check(twin):
        r_he, r_n = he.final(twin), normal["relu"].final(twin)
        best = max(normal["sigmoid"].final(twin), normal["tanh"].final(twin))
        gain = np.isfinite(r_he) and (not np.isfinite(r_n) or r_he >= r_n + TOLERANCE)
        holds = bool(gain and r_he >= best - TOLERANCE)
        return holds, f"relu He {pct(r_he)}, relu N(0,1) {pct(r_n)}, best other {pct(best)}"
    return _per_twin(paper, "6", rule, _twins(he, *normal.values()), check)


def confused_digits(m):
    paper = "4/9, 2/7 and 2/8 are mixed up most (tanh network, test set)"
    rule = (f"all three pairs are among the {TOP_PAIRS} most confused of the 45 digit pairs "
            f"(errors both ways added)")
    if not m.confusion:
        return _missing(paper, "7", rule)

    def check(twin):
        pairs = confused_pairs(np.asarray(m.confusion[twin]))
        ranks = [pair_rank(pairs, a, b) for a, b in PAPER_PAIRS]
        top = ", ".join(f"{a}/{b} ({n})" for a, b, n in pairs[:TOP_PAIRS])
        named = ", ".join(f"{a}/{b} #{r}" for (a, b), r in zip(PAPER_PAIRS, ranks))
        return all(r <= TOP_PAIRS for r in ranks), f"top {TOP_PAIRS}: {top}; ranks: {named}"
    return _per_twin(paper, "7", rule, list(m.confusion), check)


CLAIMS = (best_accuracy, no_batches_faster, rate_one_fastest, decay_as_good,
          plateau_from_100, time_grows, tanh_fastest, same_plateau, relu_lags, relu_init,
          confused_digits)


def evaluate_claims(measurements):
    """Every claim of CLAIMS checked against ``measurements``; list of Claim."""
    return [claim(measurements) for claim in CLAIMS]
