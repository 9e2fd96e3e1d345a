"""The autograd twin: its own forward pass; every gradient from autograd."""
