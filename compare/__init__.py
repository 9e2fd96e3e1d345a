"""Everything the two twins share, and everything that compares them.

This package's ``__init__`` imports nothing heavy on purpose: ``python3 -m
compare.bootstrap`` must run on a machine that has only Python.
"""
