"""Test-wide settings: the IR verifier runs after every pass in every test.

Runtimes' disk cache (codegen/runtime.py) goes to a directory of the test runs' own
in the temporary directory, shared by xdist's workers, not the user's cache, unless
``LLAX_CACHE_DIR`` says otherwise.

Hypothesis profiles for the differential fuzzer (tests/test_fuzz.py): "ci", fixed and
fast, is what the fuzz tests use unless "long" is asked for with
``--hypothesis-profile=long`` (thousands of programs, random each run). Other tests
keep Hypothesis's defaults.
"""

import os
import tempfile

from hypothesis import HealthCheck, settings

from llax.config import config

os.environ.setdefault("LLAX_CACHE_DIR", os.path.join(tempfile.gettempdir(), "llax-test-cache"))

config.update("llax_verify", True)

_FUZZ_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large,
                HealthCheck.large_base_example]
settings.register_profile("ci", max_examples=25, derandomize=True, deadline=None,
                          database=None, print_blob=True,
                          suppress_health_check=_FUZZ_HEALTH)
settings.register_profile("long", max_examples=4000, deadline=None, print_blob=True,
                          suppress_health_check=_FUZZ_HEALTH)
