"""compare.malloc: the glibc thresholds, and that they stop the autodiff step's page faults."""

import subprocess
import sys
import textwrap

import pytest

from compare import malloc
from compare.common.errors import ConfigError

GLIBC = malloc._glibc_mallopt() is not None


def test_default_leaves_malloc_alone_and_says_so() -> None:
    assert malloc.tune_malloc({"TWINPROP_MALLOC": "default"}) == {
        "tuned": False, "why": "TWINPROP_MALLOC=default"}
    assert malloc.state["tuned"] is False


def test_an_unknown_setting_is_a_one_line_error_naming_the_way_out() -> None:
    with pytest.raises(ConfigError, match="TWINPROP_MALLOC='off' is neither .*unset it"):
        malloc.tune_malloc({"TWINPROP_MALLOC": "off"})


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's; elsewhere tune_malloc does nothing")
def test_tuning_records_the_thresholds_it_set() -> None:
    assert malloc.tune_malloc({}) == {"tuned": True, "mmap_threshold": malloc.MMAP_THRESHOLD,
                                      "trim_threshold": malloc.TRIM_THRESHOLD}
    assert malloc.state["tuned"] is True


# 30 autodiff steps at batch 250 after a warm-up, in a fresh process; prints
# the minor page faults per step.
FAULTS = textwrap.dedent("""
    import os, resource, numpy as np
    from compare.malloc import tune_malloc
    print(tune_malloc()["tuned"])
    import autodiff
    from compare.common.init import init_params
    rng = np.random.default_rng(0)
    X, y = rng.random((250, 784)), rng.integers(0, 10, 250)
    params = init_params([784, 100, 10], init="lecun", seed=0)
    big = np.ones(5_000_000)      # a dataset-sized array, allocated and freed
    del big
    for _ in range(5):
        autodiff.loss_and_grads(params, X, y, "tanh")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(30):
        autodiff.loss_and_grads(params, X, y, "tanh")
    print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 30)
""")


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's; elsewhere tune_malloc does nothing")
def test_tuned_autodiff_steps_reuse_their_memory_instead_of_faulting_it_in() -> None:
    # Untuned, glibc maps and unmaps each step's larger arrays and faults
    # hundreds of pages in a step. Tuned, the heap keeps them; about one page
    # a step is still new (Python's own small objects).
    out = subprocess.run([sys.executable, "-c", FAULTS], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0] == "True"
    assert float(out[1]) < 10
