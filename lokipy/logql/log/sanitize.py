"""Label-name sanitising and value decoding shared by the parsers."""

from __future__ import annotations

import codecs
import re

_VALID = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_INVALID_CHAR = re.compile(r"[^a-zA-Z0-9_]")
_GO_SPACE = " \t\n\v\f\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"  # noqa: E501


def _space_per_byte(err: UnicodeError) -> tuple[str, int]:
    assert isinstance(err, UnicodeDecodeError)
    return " " * (err.end - err.start), err.end


# Go maps every byte of an invalid UTF-8 sequence to U+FFFD, which Loki then turns into a space.
codecs.register_error("lokipy-space", _space_per_byte)


def sanitize_key(key: str, first: bool = True) -> str:
    """Loki's ``sanitizeLabelKey``: trim, ``_`` before a leading digit, others → ``_``."""
    if _VALID.match(key):
        return key
    key = key.strip(_GO_SPACE)
    if not key:
        return key
    if first and "0" <= key[0] <= "9":
        key = "_" + key
    return _INVALID_CHAR.sub("_", key)


def decode_key(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def decode_value(raw: bytes) -> str:
    """A parsed value as Loki stores it: the replacement character becomes a space."""
    text = raw.decode("utf-8", "lokipy-space")
    if "\ufffd" in text:
        text = text.replace("\ufffd", " ")
    return text


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_value(text: str) -> str:
    """A decoded JSON string as Loki stores it: U+FFFD and lone surrogates become spaces."""
    if text.isascii():
        return text
    if "\ufffd" in text:
        text = text.replace("\ufffd", " ")
    return _SURROGATE.sub(" ", text)


def clean_entry(text: str) -> bytes:
    """An unpacked ``_entry``: lone surrogates become U+FFFD, as Go's unescaping does."""
    if text.isascii():
        return text.encode()
    return _SURROGATE.sub("\ufffd", text).encode()
