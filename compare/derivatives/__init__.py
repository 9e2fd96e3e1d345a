"""The derivative study: every activation's derivative three ways, step
sizes, precision and kinks (``study``), its plots (``plots``), the
summary computed from its data (``summary``). A user's own activation is
loaded and its derivative checked by :mod:`compare.gradcheck.useractivation`,
which the gradient checks share.
"""
