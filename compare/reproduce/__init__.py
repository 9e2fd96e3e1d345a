"""``twinprop reproduce``: the paper's figures, redrawn with every chosen twin.

- options.py: what the command is asked to do, and each option's domain
- figures.py: which training runs each figure needs (full and quick scale)
- results.py: one finished run, the runs of one curve across seeds, twin gaps
- cache.py:   finished runs on disk, keyed by a hash of configuration and twins
- soundness.py: whether a cached run holds what its configuration implies
- runner.py:  runs the missing configurations on local processes or Dask
- plots.py:   the PNGs, each with its data (JSON and CSV) beside it
- confusion.py: figure 7's confusion matrix and misclassified images
- claims.py:  the paper's claims set against the measurements, with verdicts
- report.py:  report.md and a self-contained report.html (through mdhtml.py)
"""
