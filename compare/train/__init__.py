"""Training one twin, or several in lockstep, with minibatch SGD.

``config`` (TrainConfig, checked on creation), ``schedules`` (learning
rates), ``trainer`` (the loop), ``sgd`` (one step, in row chunks when the
batch is large), ``chunks`` (how many rows a pass takes at once), ``memory``
(what a run needs, checked up front), ``checkpoint``, ``run_files`` and
``run_state`` (what a run folder holds, and the checks before a resume uses
it), ``evaluate`` (loss and accuracy) and ``curves`` (the plot).
"""
