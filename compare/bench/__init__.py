"""``twinprop bench``: epochs of every twin timed side by side in one run.

``run`` (the timing loop), ``candidates`` (what is timed), ``targets`` (the
speed goals, judged from the timings), ``report`` and ``markdown`` (tables),
``machine`` and ``blas`` (what it ran on), ``torch_eager`` (the PyTorch
yardstick) and ``autograd_profile`` (where an autodiff step spends its time).
"""
