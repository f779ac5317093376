"""lokipy benchmarks: the ``lokipy-bench-v1`` workload, same-run baselines, exact oracles.

``python -m benchmarks`` runs everything; see ``benchmarks/README.md``. Nothing here is imported
by ``lokipy`` itself, and nothing here imports ``../shared``: the workload is defined in
``datasets.py`` and checked against the reference definition in ``docs/benchmarks``.
"""

from __future__ import annotations

WORKLOAD = "lokipy-bench-v1"
