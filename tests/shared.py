"""Locating ``../shared`` (fixtures, conformance corpus), which lives beside the repo.

CI has it; a user's clone does not, so every test that reads it skips cleanly without it.
``LOKIPY_SHARED`` overrides the location (handy from a git worktree).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path | None:
    env = os.environ.get("LOKIPY_SHARED")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared")
    for path in candidates:
        if (path / "fixtures").is_dir() or (path / "conformance").is_dir():
            return path
    return None


def require_shared(*parts: str) -> Path:
    """The path under shared/, or skip the calling test when shared/ is not beside the repo."""
    base = shared_dir()
    if base is None:
        pytest.skip("../shared is not present (only CI and developer machines have it)")
    path = base.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not present")
    return path
