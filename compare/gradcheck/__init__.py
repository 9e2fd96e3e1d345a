"""Gradient checks of the twins: finite differences, complex step, each other.

Modules, one idea each:

* ``lossfn``       the loss the checks differentiate (the twin's own activations,
                   complex-safe), and precise loss *changes* (:func:`delta_loss`)
* ``structured``   every coordinate's perturbation, vectorised per layer
* ``finite_diff``  central differences, one-sided slopes, Richardson estimates
* ``tolerance``    every threshold, and the relative error that is never NaN
* ``kinks``        relu/leaky_relu kinks: labels, one-sided rule, conventions at 0
* ``full``         mode full: every parameter
* ``directional``  mode fast: signed random directions, bisection on failure
* ``complex_step`` mode complex: Im L(theta + i h e) / h
* ``sweep``        mode sweep: error against step, slope, plot
* ``oracles``      the three oracles as table rows
* ``report``       the rows, the table, JSON
* ``selftest``     known bugs injected into a copy of the manual gradient
* ``suite``        run a mode for every activation (what the CLI calls)
* ``render``       the CLI's text and JSON

Every check calls ``manual.loss_and_grads`` / ``autodiff.loss_and_grads``
looked up at call time, so a replaced (monkeypatched) twin is what is checked.
"""
