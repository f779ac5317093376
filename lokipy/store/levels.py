"""``detected_level`` discovery, as Loki 3.x's distributor does it (``discover_log_levels``).

Order of sources: a level-ish stream label, the same names in structured metadata, the level
key of a JSON or logfmt line, and finally a keyword scan of the line. Known spellings are
normalised; an unknown value from a label or field is kept as is.
"""

from __future__ import annotations

import re

import orjson

LEVEL_NAMES = ("level", "LEVEL", "Level", "severity", "SEVERITY", "Severity", "SeverityText",
               "lvl", "LVL", "Lvl", "log.level")  # fmt: skip
DETECTED_LEVEL = "detected_level"

_NORMALISED = {
    "trace": "trace", "trc": "trace",
    "debug": "debug", "dbg": "debug",
    "info": "info", "inf": "info", "information": "info", "notice": "info",
    "warn": "warn", "wrn": "warn", "warning": "warn",
    "error": "error", "err": "error", "eror": "error",
    "critical": "critical", "crit": "critical",
    "fatal": "fatal", "panic": "fatal", "emerg": "fatal", "alert": "fatal",
}  # fmt: skip
_KEYWORDS = re.compile(rb"\b(trace|debug|info|warn|warning|err|error|critical|fatal)\b", re.IGNORECASE)
_LOGFMT_LEVEL = re.compile(
    rb'(?:^|\s)(?:level|lvl|severity|LEVEL|Level|LVL|Lvl|SEVERITY|Severity)="?([A-Za-z]+)'
)


def normalise(value: str) -> str:
    return _NORMALISED.get(value.lower(), value)


def level_from_pairs(pairs: tuple[tuple[str, str], ...]) -> str | None:
    """A level taken from labels or metadata by Loki's preferred names, normalised."""
    found = dict(pairs)
    for name in LEVEL_NAMES:
        value = found.get(name)
        if value:
            return normalise(value)
    return None


def level_from_line(line: bytes) -> str:
    stripped = line.strip()
    if stripped[:1] == b"{" and stripped[-1:] == b"}":
        value = _json_level(stripped)
        if value:
            return normalise(value)
    elif b"=" in line:
        m = _LOGFMT_LEVEL.search(line)
        if m:
            return normalise(m.group(1).decode("ascii"))
    m = _KEYWORDS.search(line)
    if m is None:
        return "unknown"
    return _NORMALISED[m.group(1).lower().decode("ascii")]


def _json_level(line: bytes) -> str | None:
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    for scope in [doc, *(v for v in doc.values() if isinstance(v, dict))]:  # depth 2
        for name in LEVEL_NAMES:
            value = scope.get(name)
            if isinstance(value, str) and value:
                return value
    return None
