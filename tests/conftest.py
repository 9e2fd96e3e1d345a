"""Shared test settings: Hypothesis profiles."""

import os

from hypothesis import HealthCheck, settings

# CI: bounded examples and no deadline (shared 2-core machines are noisy).
settings.register_profile(
    "ci", max_examples=30, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=10, deadline=None, print_blob=True)
settings.register_profile("thorough", max_examples=500, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
