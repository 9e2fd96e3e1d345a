"""The hand-derived twin: plain numpy backpropagation (never imports autograd)."""
