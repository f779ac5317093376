"""The functions ``line_format``/``label_format`` templates can call (Loki's set).

Go builtins: ``and or not len index slice print printf println eq ne lt le gt ge html js
urlquery``. Loki's own: ``ToLower ToUpper Replace Trim TrimLeft TrimRight TrimPrefix
TrimSuffix TrimSpace regexReplaceAll regexReplaceAllLiteral count urldecode urlencode bytes
duration duration_seconds unixEpochMillis unixEpochNanos toDateInZone unixToTime alignLeft
alignRight`` plus ``__line__`` and ``__timestamp__`` (bound per line by the stage). Sprig's:
``b64enc b64dec lower upper title trunc substr contains hasPrefix hasSuffix indent nindent
replace repeat trim trimAll trimSuffix trimPrefix int float64 add sub mul div mod addf subf mulf
divf max min maxf minf ceil floor round fromJson date toDate now unixEpoch default``.

Sprig's arithmetic converts its arguments like ``spf13/cast`` (strings are parsed; a value that
does not parse counts as 0), so ``{{ div .bytes 1024 }}`` works on label strings.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import math
import re
import urllib.parse
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from lokipy.logql.log.gofmt import (
    ZERO_TIME_NS,
    GoTime,
    format_layout,
    parse_layout,
    sprint,
    sprintf,
)
from lokipy.logql.log.template import JSONObject, go_type, truth
from lokipy.logql.log.units import ConversionError, parse_bytes, parse_duration, parse_float
from lokipy.model.regex import compile_regex

_GO_SPACE = " \t\n\v\f\r\x85\xa0"


def _want_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"wrong type for value; expected int; got {go_type(value)}")
    return value


def _want_str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"wrong type for value; expected string; got {go_type(value)}")
    return value


def to_int64(value: Any) -> int:
    """``cast.ToInt64``: numbers truncate, strings parse (base prefixes allowed), else 0."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else 0
    if isinstance(value, str):
        text = value
        if "." in text and text.rstrip("0").endswith("."):
            text = text.rstrip("0")[:-1]
        try:
            return int(text, 0) if "_" not in text else 0
        except ValueError:
            return 0
    return 0


def to_float64(value: Any) -> float:
    if isinstance(value, (bool, int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return parse_float(value)
        except ConversionError:
            return 0.0
    return 0.0


def _empty(value: Any) -> bool:
    return not truth(value)


# --- strings ----------------------------------------------------------------------------


def _title(s: str) -> str:
    out: list[str] = []
    prev = " "
    for ch in s:
        out.append(ch.upper() if not (prev.isalnum() or prev == "_" or prev == "'") else ch)
        prev = ch
    return "".join(out)


def _go_trim(s: str, cutset: str) -> str:
    return s.strip(cutset) if cutset else s


def _expand(template: str, m: Any) -> str:
    """Go's ``Regexp.Expand``: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``."""
    out: list[str] = []
    i = 0
    groups = m.re.groupindex
    while i < len(template):
        j = template.find("$", i)
        if j < 0:
            out.append(template[i:])
            break
        out.append(template[i:j])
        rest = template[j + 1 :]
        if rest.startswith("$"):
            out.append("$")
            i = j + 2
            continue
        ref = re.match(r"\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+)", rest)
        if ref is None:
            out.append("$")
            i = j + 1
            continue
        name = ref.group(1) or ref.group(2)
        i = j + 1 + ref.end()
        if name.isdigit():
            idx = int(name)
            value = m.group(idx) if idx <= m.re.groups else None
        else:
            key = name.encode() if isinstance(next(iter(groups), ""), bytes) else name
            value = m.group(key) if key in groups else None
        if value is not None:
            out.append(value.decode() if isinstance(value, bytes) else value)
    return "".join(out)


def _rx(pattern: Any) -> Any:
    return compile_regex(_want_str(pattern))


def regex_replace_all(pattern: Any, s: Any, repl: Any) -> str:
    rx, s, repl = _rx(pattern), _want_str(s), _want_str(repl)
    return rx.sub(lambda m: _expand(repl, m), s)


def regex_replace_all_literal(pattern: Any, s: Any, repl: Any) -> str:
    rx, s, repl = _rx(pattern), _want_str(s), _want_str(repl)
    return rx.sub(lambda m: repl, s)


def _count(pattern: Any, s: Any) -> int:
    return sum(1 for _ in _rx(pattern).finditer(_want_str(s)))


def _query_escape(s: Any) -> str:
    return urllib.parse.quote_plus(_want_str(s), safe="-_.~")


def _query_unescape(s: Any) -> str:
    text = _want_str(s)
    for m in re.finditer(r"%(.{0,2})", text):
        if not re.fullmatch(r"[0-9a-fA-F]{2}", m.group(1)):
            raise ValueError(f'invalid URL escape "{m.group()}"')
    return urllib.parse.unquote_plus(text, errors="replace")


def _b64dec(s: Any) -> str:
    try:
        return base64.b64decode(_want_str(s), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError) as err:
        return f"illegal base64 data at input byte 0 ({err})"


def _substr(start: Any, end: Any, s: Any) -> str:
    start, end, s = _want_int(start), _want_int(end), _want_str(s)
    if start < 0:
        return s[:end]
    if end < 0 or end > len(s):
        return s[start:]
    return s[start:end]


def _trunc(c: Any, s: Any) -> str:
    c, s = _want_int(c), _want_str(s)
    if c < 0 and len(s) + c > 0:
        return s[len(s) + c :]
    if c >= 0 and len(s) > c:
        return s[:c]
    return s


def _indent(n: Any, s: Any) -> str:
    pad = " " * _want_int(n)
    return pad + _want_str(s).replace("\n", "\n" + pad)


def _align(left: bool) -> Callable[[Any, Any], str]:
    def align(count: Any, src: Any) -> str:
        count, src = _want_int(count), _want_str(src)
        n = len(src)
        if count < 0 or count == n:
            return src
        if count > n:
            return src + " " * (count - n) if left else " " * (count - n) + src
        return src[:count] if left else src[n - count :]

    return align


# --- numbers ----------------------------------------------------------------------------


def _div(a: Any, b: Any) -> int:
    x, y = to_int64(a), to_int64(b)
    if y == 0:
        raise ZeroDivisionError("runtime error: integer divide by zero")
    q = abs(x) // abs(y)
    return q if (x >= 0) == (y >= 0) else -q


def _mod(a: Any, b: Any) -> int:
    x, y = to_int64(a), to_int64(b)
    if y == 0:
        raise ZeroDivisionError("runtime error: integer divide by zero")
    return x - _div(x, y) * y


def _dec(value: Any) -> Decimal:
    return Decimal(repr(to_float64(value)))


def _divf(a: Any, *v: Any) -> float:
    acc = _dec(a)
    for b in v:
        d = _dec(b)
        if d == 0:
            raise ZeroDivisionError("decimal division by zero")
        acc /= d
    return float(acc)


def _round(a: Any, p: Any, r_opt: Any = 0.5) -> float:
    val = to_float64(a)
    places = to_float64(p)
    rnd = to_float64(r_opt)
    pow10 = math.pow(10, places)
    digit = pow10 * val
    _, frac = math.modf(digit)
    rounded = math.ceil(digit) if frac >= rnd else math.floor(digit)
    return rounded / pow10


def _convert_bytes(v: Any) -> float:
    return float(parse_bytes(_want_str(v)))


def _convert_duration(v: Any) -> float:
    return parse_duration(_want_str(v)) / 1e9


# --- time -------------------------------------------------------------------------------


def _as_time(value: Any) -> GoTime:
    if isinstance(value, GoTime):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return GoTime(value * 1_000_000_000)
    return GoTime.now()


def _date(fmt: Any, value: Any) -> str:
    return format_layout(_as_time(value), _want_str(fmt))


def _to_date(fmt: Any, s: Any) -> GoTime:
    try:
        return parse_layout(_want_str(fmt), _want_str(s))
    except ValueError:
        return GoTime(ZERO_TIME_NS)


def _to_date_in_zone(fmt: Any, zone: Any, s: Any) -> GoTime:
    try:
        return parse_layout(_want_str(fmt), _want_str(s), _want_str(zone))
    except ValueError:
        return GoTime(ZERO_TIME_NS)


def _unix_to_time(epoch: Any) -> GoTime:
    text = _want_str(epoch)
    try:
        i = int(text, 10)
    except ValueError:
        raise ValueError(
            f"unable to parse time '{text}': strconv.ParseInt: parsing \"{text}\": invalid syntax"
        ) from None
    scale = {5: 86400 * 10**9, 10: 10**9, 13: 10**6, 16: 10**3, 19: 1}.get(len(text))
    if scale is None:
        raise ValueError(f"unable to parse time '{text}' length {len(text)} is unsupported")
    return GoTime(i * scale)


def _want_time(value: Any) -> GoTime:
    if not isinstance(value, GoTime):
        raise TypeError(f"wrong type for value; expected time.Time; got {go_type(value)}")
    return value


# --- Go builtins ------------------------------------------------------------------------


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    return "other"


def _eq(a: Any, *others: Any) -> bool:
    if not others:
        raise ValueError("missing argument for comparison")
    for b in others:
        ka, kb = _kind(a), _kind(b)
        if ka != kb or ka == "other":
            if a is None or b is None:
                if a is b:
                    return True
                continue
            raise ValueError("incompatible types for comparison")
        if a == b:
            return True
    return False


def _ordered(a: Any, b: Any) -> None:
    ka, kb = _kind(a), _kind(b)
    if ka in ("bool", "other") or kb in ("bool", "other"):
        raise ValueError("invalid type for comparison")
    if ka != kb:
        raise ValueError("incompatible types for comparison")


def _lt(a: Any, b: Any) -> bool:
    _ordered(a, b)
    return bool(a < b)


def _le(a: Any, b: Any) -> bool:
    _ordered(a, b)
    return bool(a <= b)


def _and(*args: Any) -> Any:
    for a in args:
        if not truth(a):
            return a
    return args[-1]


def _or(*args: Any) -> Any:
    for a in args:
        if truth(a):
            return a
    return args[-1]


def _len(v: Any) -> int:
    if isinstance(v, str):
        return len(v.encode())
    if isinstance(v, (list, tuple, dict)):
        return len(v)
    raise ValueError(f"len of type {go_type(v)}")


def _index(item: Any, *keys: Any) -> Any:
    for k in keys:
        if isinstance(item, Mapping):
            item = item.get(k, None if isinstance(item, JSONObject) else "")
        elif isinstance(item, (list, tuple, str)):
            i = _want_int(k)
            if not 0 <= i < len(item):
                raise IndexError(f"index out of range: {i}")
            item = item[i]
        else:
            raise ValueError(f"can't index item of type {go_type(item)}")
    return item


def _print(*args: Any) -> str:
    out: list[str] = []
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(sprint(a))
    return "".join(out)


def _from_json(s: Any) -> Any:
    try:
        return json.loads(_want_str(s), object_hook=JSONObject, parse_int=float)
    except (ValueError, InvalidOperation):
        return None


FUNCS: dict[str, Callable[..., Any]] = {
    # Go builtins
    "and": _and, "or": _or, "not": lambda v: not truth(v), "len": _len, "index": _index,
    "slice": lambda s, *ix: s[ix[0] if ix else 0 : ix[1] if len(ix) > 1 else None],
    "print": _print, "printf": lambda f, *a: sprintf(_want_str(f), *a),
    "println": lambda *a: " ".join(sprint(x) for x in a) + "\n",
    "eq": _eq, "ne": lambda a, b: not _eq(a, b), "lt": _lt, "le": _le,
    "gt": lambda a, b: not _le(a, b), "ge": lambda a, b: not _lt(a, b),
    "html": lambda *a: html.escape(_print(*a)),
    "js": lambda *a: json.dumps(_print(*a))[1:-1],
    "urlquery": lambda *a: urllib.parse.quote_plus(_print(*a)),
    # Loki
    "ToLower": lambda s: _want_str(s).lower(), "ToUpper": lambda s: _want_str(s).upper(),
    "Replace": lambda s, old, new, n: _want_str(s).replace(old, new, _want_int(n)),
    "Trim": lambda s, cut: _go_trim(_want_str(s), cut),
    "TrimLeft": lambda s, cut: _want_str(s).lstrip(cut) if cut else s,
    "TrimRight": lambda s, cut: _want_str(s).rstrip(cut) if cut else s,
    "TrimPrefix": lambda s, p: _want_str(s).removeprefix(p),
    "TrimSuffix": lambda s, p: _want_str(s).removesuffix(p),
    "TrimSpace": lambda s: _want_str(s).strip(_GO_SPACE),
    "regexReplaceAll": regex_replace_all, "regexReplaceAllLiteral": regex_replace_all_literal,
    "count": _count, "urldecode": _query_unescape, "urlencode": _query_escape,
    "bytes": _convert_bytes, "duration": _convert_duration, "duration_seconds": _convert_duration,
    "unixEpochMillis": lambda t: str(_want_time(t).ns // 1_000_000),
    "unixEpochNanos": lambda t: str(_want_time(t).ns),
    "toDateInZone": _to_date_in_zone, "unixToTime": _unix_to_time,
    "alignLeft": _align(True), "alignRight": _align(False),
    # sprig
    "b64enc": lambda s: base64.b64encode(_want_str(s).encode()).decode(), "b64dec": _b64dec,
    "lower": lambda s: _want_str(s).lower(), "upper": lambda s: _want_str(s).upper(),
    "title": lambda s: _title(_want_str(s)), "trunc": _trunc, "substr": _substr,
    "contains": lambda sub, s: _want_str(sub) in _want_str(s),
    "hasPrefix": lambda p, s: _want_str(s).startswith(_want_str(p)),
    "hasSuffix": lambda p, s: _want_str(s).endswith(_want_str(p)),
    "indent": _indent, "nindent": lambda n, s: "\n" + _indent(n, s),
    "replace": lambda old, new, s: _want_str(s).replace(_want_str(old), _want_str(new)),
    "repeat": lambda n, s: _want_str(s) * max(_want_int(n), 0),
    "trim": lambda s: _want_str(s).strip(_GO_SPACE),
    "trimAll": lambda cut, s: _go_trim(_want_str(s), _want_str(cut)),
    "trimSuffix": lambda suf, s: _want_str(s).removesuffix(_want_str(suf)),
    "trimPrefix": lambda pre, s: _want_str(s).removeprefix(_want_str(pre)),
    "int": to_int64, "float64": to_float64,
    "add": lambda *a: sum(to_int64(x) for x in a),
    "sub": lambda a, b: to_int64(a) - to_int64(b),
    "mul": lambda a, *v: math.prod([to_int64(a)] + [to_int64(x) for x in v]),
    "div": _div, "mod": _mod,
    "addf": lambda *a: float(sum((_dec(x) for x in a), Decimal(0))),
    "subf": lambda a, *v: float(_dec(a) - sum((_dec(x) for x in v), Decimal(0))),
    "mulf": lambda a, *v: float(math.prod([_dec(a)] + [_dec(x) for x in v])),
    "divf": _divf,
    "max": lambda a, *v: max([to_int64(a)] + [to_int64(x) for x in v]),
    "min": lambda a, *v: min([to_int64(a)] + [to_int64(x) for x in v]),
    "maxf": lambda a, *v: max([to_float64(a)] + [to_float64(x) for x in v]),
    "minf": lambda a, *v: min([to_float64(a)] + [to_float64(x) for x in v]),
    "ceil": lambda a: float(math.ceil(to_float64(a))),
    "floor": lambda a: float(math.floor(to_float64(a))),
    "round": _round, "fromJson": _from_json,
    "date": _date, "toDate": _to_date, "now": GoTime.now,
    "unixEpoch": lambda t: str(_want_time(t).unix()),
    "default": lambda d, *given: d if not given or _empty(given[0]) else given[0],
    # bound per line by the formatter stages
    "__line__": lambda: "", "__timestamp__": lambda: GoTime(0),
}  # fmt: skip
