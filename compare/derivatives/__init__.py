"""The derivative study: every activation's derivative three ways, step
sizes, precision and kinks (``study``), its plots (``plots``), the
summary computed from its data (``summary``), and a user's own activation
loaded from a file with its derivative checked (``custom``).
"""
