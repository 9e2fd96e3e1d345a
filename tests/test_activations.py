"""Each activation's in-place form against its reference (manual.activations).

The buffered twin computes g and g' in place; the plain twin calls the
references. Both must be the very same numbers (one formula, one source),
for any finite input and both float dtypes.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from manual.activations import ACTIVATIONS


def _values(dtype):
    finite = st.floats(allow_nan=False, allow_infinity=False, width=np.dtype(dtype).itemsize * 8)
    return hnp.arrays(dtype, hnp.array_shapes(min_dims=1, max_dims=2, max_side=40),
                      elements=st.one_of(finite, st.sampled_from([0.0, -0.0, 1e-300, -5.0, 30.0])))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_in_place_forms_equal_their_references(name, dtype):
    act = ACTIVATIONS[name]

    @given(_values(dtype))
    def check(z):
        out, keep, deriv = np.empty_like(z), np.empty_like(z), np.empty_like(z)
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            act.fn_into(z, out, keep)
            act.deriv_into(z, keep, deriv)
            reference, reference_deriv = act.fn(z), act.deriv(z)
        assert out.dtype == deriv.dtype == z.dtype
        np.testing.assert_array_equal(out, reference)
        np.testing.assert_array_equal(deriv, reference_deriv)

    check()


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_references_keep_relative_precision_where_units_saturate(name):
    """g'(z) of a saturated unit is tiny but exact to rounding, not 0."""
    z = np.array([-40.0, -20.0, 20.0, 40.0])
    d = ACTIVATIONS[name].deriv(z)
    exact = {"sigmoid": np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))) ** 2,
             "tanh": 4 * np.exp(-2 * np.abs(z)) / (1 + np.exp(-2 * np.abs(z))) ** 2,
             "softplus": 1 / (1 + np.exp(-z)),
             "relu": (z > 0).astype(float), "leaky_relu": np.where(z > 0, 1.0, 0.01),
             "identity": np.ones_like(z)}[name]
    np.testing.assert_allclose(d, exact, rtol=1e-14, atol=0)
