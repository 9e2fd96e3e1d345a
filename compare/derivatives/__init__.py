"""The derivative study: every activation's derivative three ways, step
sizes, precision and kinks (``study``), its plots (``plots``) and the
summary computed from its data (``summary``).
"""
