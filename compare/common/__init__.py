"""What the twins may import from ``compare``: leaf modules only.

``errors`` (the project's error types), ``validate`` (checks of what callers
hand a network), ``dtypes`` (the supported float types) and ``init`` (seeded
weight initialisation). None of them is differentiation, and none imports
anything else of ``compare``, so a twin that imports them shares no
arithmetic with the other twins (``tests/test_layout.py`` enforces this).
"""
