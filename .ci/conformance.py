"""Run the shared LogQL corpus against a real `lokipy serve` and enforce the issue targets:
syntax >= 99% agreement (format_query over HTTP), semantics >= 95% (query API over HTTP)."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lokipy.testing.server import ServerProcess  # noqa: E402

# The corpus assumes nothing is added at ingestion and replays data from 2026-01-01 onwards.
CONFIG = {
    "limits_config": {
        "discover_service_name": [],
        "discover_log_levels": False,
        "reject_old_samples": False,
        "ingestion_rate_mb": 0,
        "max_global_streams_per_user": 0,
    }
}
TARGETS = {"syntax": 0.99, "semantics": 0.95}


def run(runner: Path, corpus: Path, kind: str, url: str, report: Path) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, str(runner), kind, "--url", url, "--corpus", str(corpus), "--report", str(report)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    print(out.stdout.strip().splitlines()[-1])
    m = re.search(rf"{kind}: (\d+)/(\d+)", out.stdout)
    if m is None:
        raise SystemExit(f"conformance: no {kind} score in the runner's output:\n{out.stdout}\n{out.stderr}")
    return int(m.group(1)), int(m.group(2))


def main() -> int:
    shared = Path(sys.argv[1]).resolve()
    runner = shared / "logql_conformance.py"
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        with ServerProcess(Path(tmp) / "data", CONFIG) as server:
            for kind in ("syntax", "semantics"):
                passed, total = run(
                    runner, shared / f"logql_{kind}.jsonl", kind, server.url, Path(tmp) / f"{kind}.json"
                )
                rate = passed / total
                ok = rate >= TARGETS[kind]
                failed |= not ok
                print(
                    f"conformance {kind}: {passed}/{total} = {rate:.1%} (target {TARGETS[kind]:.0%}) {'ok' if ok else 'BELOW TARGET'}"
                )
                if not ok:
                    print(yaml.safe_dump(yaml.safe_load(Path(tmp, f"{kind}.json").read_text()))[:5000])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
