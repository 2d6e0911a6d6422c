"""Test-suite settings shared by every folder.

Under CI (``CI`` set in the environment) hypothesis draws the same examples on every run
(``derandomize``), so a submission's result does not depend on luck; locally it explores anew
each time and keeps failing examples in its database.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
