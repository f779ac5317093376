from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# A bounded profile keeps the whole suite inside its time budget; HYPOTHESIS_PROFILE=thorough
# digs deeper when someone has the time.
settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
