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
* ``budget``       the memory a check needs, estimated before it starts

Bring your own backprop (``twinprop gradcheck --twin``):

* ``usercode``     load a user's function or module, errors as one line
* ``usertwin``     a user's ``loss_and_grads`` called safely, its answer unpacked
* ``lossmodel``    which function the user's loss is (the paper's, times a, plus L2)
* ``blackbox``     directional checks of a loss known only as a function
* ``byo``          the modes run on a user's function
* ``diagnose``     what a failing tensor's numbers say the bug is
* ``wrongderiv``   the wrong activation derivatives students write
* ``useractivation`` a user's own activation (``--activation PATH.py:name``),
                   loaded and its derivative checked (the derivative study uses it too)
* ``threads``      one BLAS thread while a user's function is checked
* ``api``          ``assert_gradients_correct`` for a user's own tests

Every check calls the registered twins' ``loss_and_grads`` looked up at call
time (``compare.twins.TWINS``), so a replaced (monkeypatched) twin is what is
checked.
"""
