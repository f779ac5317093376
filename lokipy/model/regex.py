"""RE2 regexes, compiled once, linear time (Go's ``regexp`` has the same syntax and guarantee).

Every regex lokipy runs on user input goes through here: a query regex must never be able to
stall the server, so Python's backtracking ``re`` is not used for them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

from lokipy.model.errors import InvalidInput


class RegexError(InvalidInput):
    """A pattern that RE2 (Go syntax) rejects; message worded like Go's ``regexp``."""


def _options() -> Any:
    opts = re2.Options()
    opts.log_errors = False  # RE2 would print every rejected pattern to stderr
    return opts


_OPTIONS = _options()


@lru_cache(maxsize=4096)
def compile_regex(pattern: str | bytes) -> Any:
    """Compile ``pattern`` unanchored (line filters search anywhere in the line)."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as err:
        text = pattern.decode("utf-8", "replace") if isinstance(pattern, bytes) else pattern
        reason = err.args[0] if err.args else ""
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise RegexError(f"error parsing regexp: {reason}: `{text}`") from err


def compile_anchored(pattern: str) -> Any:
    """Compile for a whole-value match, as Prometheus label matchers do: ``^(?s:p)$``."""
    compile_regex(pattern)  # report errors against the pattern the user wrote
    return compile_regex(f"^(?s:{pattern})$")
