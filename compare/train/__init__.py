"""Training one twin, or several in lockstep, with minibatch SGD.

``config`` (TrainConfig, checked on creation), ``schedules`` (learning
rates), ``trainer`` (the loop), ``checkpoint`` and ``run_files`` (what a run
folder holds), ``evaluate`` (loss and accuracy) and ``curves`` (the plot).
"""
