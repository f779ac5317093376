"""Instant-vector operations at one evaluation step: aggregations, binary operators, functions.

A step's vector is a list of ``(labels, value)`` pairs. Everything here is pure and follows
Loki's ``vectorAggEvaluator``/``binOpStepEvaluator`` (PromQL rules with LogQL's twists:
``x / 0`` and ``x % 0`` are NaN, literal comparisons give 0/1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lokipy.logql.functions import incremental_mean
from lokipy.logql.results import make_labels
from lokipy.model.errors import LogQLEvalError
from lokipy.model.labels import Labels
from lokipy.model.regex import compile_regex

StepVector = list[tuple[Labels, float]]


def cached_keys(grouping: Grouping) -> Callable[[Labels], Labels]:
    """``grouping.key`` memoised per label set."""
    cache: dict[Labels, Labels] = {}

    def key(labels: Labels) -> Labels:
        k = cache.get(labels)
        if k is None:
            k = cache[labels] = grouping.key(labels)
        return k

    return key


@dataclass(frozen=True, slots=True)
class Grouping:
    """``by (a, b)`` or ``without (a, b)``; ``by ()`` and no clause both mean one group."""

    names: tuple[str, ...] = ()
    without: bool = False

    def key(self, labels: Labels) -> Labels:
        if self.without:
            drop = set(self.names)
            return make_labels([p for p in labels.pairs if p[0] not in drop])
        keep = set(self.names)
        return make_labels([p for p in labels.pairs if p[0] in keep])


NO_GROUPING = Grouping()


# --- arithmetic as Go does it ---------------------------------------------------------------


def go_pow(x: float, y: float) -> float:
    try:
        return math.pow(x, y)
    except OverflowError:
        odd = float(y).is_integer() and int(y) % 2 == 1
        return -math.inf if x < 0 and odd else math.inf
    except ValueError:
        if x == 0:  # 0 ** negative
            odd = float(y).is_integer() and int(y) % 2 == 1
            return math.copysign(math.inf, x) if odd else math.inf
        return math.nan


def go_mod(x: float, y: float) -> float:
    if y == 0:
        return math.nan
    try:
        return math.fmod(x, y)
    except ValueError:
        return math.nan


def _div(x: float, y: float) -> float:
    return math.nan if y == 0 else x / y


ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _div,
    "%": go_mod,
    "^": go_pow,
}
COMPARISON: dict[str, Callable[[float, float], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
}
SET_OPS = ("and", "or", "unless")


def is_comparison(op: str) -> bool:
    return op in COMPARISON


def scalar_binop(op: str, a: float, b: float) -> float:
    """Two scalars: arithmetic, or a comparison as 1/0 (Loki folds literals this way)."""
    if op in ARITHMETIC:
        return ARITHMETIC[op](a, b)
    if op in COMPARISON:
        return 1.0 if COMPARISON[op](a, b) else 0.0
    raise LogQLEvalError(f"unsupported binary operator {op} between scalars")


def vector_scalar_binop(
    op: str, vec: StepVector, scalar: float, *, scalar_left: bool, return_bool: bool
) -> StepVector:
    """``vector op scalar`` (or ``scalar op vector``): comparisons filter unless ``bool``."""
    out: StepVector = []
    if op in ARITHMETIC:
        fn = ARITHMETIC[op]
        for labels, v in vec:
            out.append((labels, fn(scalar, v) if scalar_left else fn(v, scalar)))
        return out
    cmp = COMPARISON[op]
    for labels, v in vec:
        hit = cmp(scalar, v) if scalar_left else cmp(v, scalar)
        if return_bool:
            out.append((labels, 1.0 if hit else 0.0))
        elif hit:
            out.append((labels, v))
    return out


@dataclass(frozen=True, slots=True)
class VectorMatching:
    """``on``/``ignoring`` and ``group_left``/``group_right`` of a vector/vector operation."""

    on: bool = False
    names: tuple[str, ...] = ()
    card: str = "one-to-one"  # "many-to-one" (group_left) / "one-to-many" (group_right)
    include: tuple[str, ...] = ()

    def signature(self, labels: Labels) -> tuple[Any, ...]:
        # Loki hashes the kept label *pairs*: a label with an empty value (parsers can make
        # one) differs from a missing label.
        if self.on:
            keep = set(self.names)
            return tuple(p for p in labels.pairs if p[0] in keep)
        if self.names:
            drop = set(self.names)
            return tuple(p for p in labels.pairs if p[0] not in drop)
        return labels.pairs


ONE_TO_ONE = VectorMatching()


def _result_labels(lhs: Labels, rhs: Labels, matching: VectorMatching) -> Labels:
    pairs = dict(lhs.pairs)
    if matching.card == "one-to-one":
        if matching.on:
            keep = set(matching.names)
            pairs = {n: v for n, v in pairs.items() if n in keep}
        else:
            for n in matching.names:
                pairs.pop(n, None)
    for n in matching.include:  # group_x labels come from the "one" side
        v = rhs.get(n)
        if v:
            pairs[n] = v
        else:
            pairs.pop(n, None)
    return make_labels(pairs.items())


def vector_binop(
    op: str, lhs: StepVector, rhs: StepVector, matching: VectorMatching, *, return_bool: bool
) -> StepVector:
    """Vector/vector arithmetic or comparison with PromQL's matching rules and errors."""
    if op in SET_OPS:
        return set_binop(op, lhs, rhs, matching)
    card = matching.card
    if card == "one-to-many":  # swap so the right side is always the "one" side
        lhs, rhs = rhs, lhs
    one_side: dict[tuple[Any, ...], tuple[Labels, float]] = {}
    for labels, v in rhs:
        sig = matching.signature(labels)
        if sig in one_side:
            side = "right" if card != "one-to-many" else "left"
            raise LogQLEvalError(
                f"found duplicate series on the {side} hand-side;many-to-many matching not "
                "allowed: matching labels must be unique on one side"
            )
        one_side[sig] = (labels, v)
    arith = ARITHMETIC.get(op)
    cmp = COMPARISON.get(op)
    matched: dict[tuple[Any, ...], set[Labels] | None] = {}
    out: StepVector = []
    for labels, v in lhs:
        sig = matching.signature(labels)
        other = one_side.get(sig)
        if other is None:
            continue
        # Cardinality is checked for every matched pair, before a comparison filters it.
        metric = _result_labels(labels, other[0], matching)
        if card == "one-to-one":
            if sig in matched:
                raise LogQLEvalError(
                    "multiple matches for labels: many-to-one matching must be explicit "
                    "(group_left/group_right)"
                )
            matched[sig] = None
        else:
            seen = matched.get(sig)
            if seen is None:
                seen = set()
                matched[sig] = seen
            elif metric in seen:
                raise LogQLEvalError(
                    "multiple matches for labels: grouping labels must ensure unique matches"
                )
            seen.add(metric)
        vl, vr = (other[1], v) if card == "one-to-many" else (v, other[1])
        if arith is not None:
            out.append((metric, arith(vl, vr)))
            continue
        assert cmp is not None
        hit = cmp(vl, vr)
        if return_bool:
            out.append((metric, 1.0 if hit else 0.0))
        elif hit:
            out.append((metric, vl))
    return out


def set_binop(op: str, lhs: StepVector, rhs: StepVector, matching: VectorMatching) -> StepVector:
    """``and``/``or``/``unless``: keep samples by whether the other side has their signature."""
    sig = matching.signature
    if op == "and":
        right = {sig(labels) for labels, _ in rhs}
        return [s for s in lhs if sig(s[0]) in right]
    if op == "unless":
        right = {sig(labels) for labels, _ in rhs}
        return [s for s in lhs if sig(s[0]) not in right]
    left = {sig(labels) for labels, _ in lhs}
    return list(lhs) + [s for s in rhs if sig(s[0]) not in left]


# --- aggregations ---------------------------------------------------------------------------


def _nan_low(v: float) -> tuple[bool, float]:
    """Sort key ranking NaN below every number."""
    return (v == v, v if v == v else 0.0)


def aggregate(
    op: str,
    vec: StepVector,
    grouping: Grouping = NO_GROUPING,
    param: float | None = None,
    keys: Callable[[Labels], Labels] | None = None,
) -> StepVector:
    """One of sum avg min max count stddev stdvar topk bottomk approx_topk sort sort_desc.

    ``keys`` may replace ``grouping.key`` with a cached version (the same series recur at
    every step of a range query).
    """
    if op in ("sort", "sort_desc"):
        return sort_vector(vec, descending=op == "sort_desc")
    key = grouping.key if keys is None else keys
    groups: dict[Labels, list[tuple[Labels, float]]] = {}
    for labels, v in vec:
        k = key(labels)
        group = groups.get(k)
        if group is None:
            groups[k] = [(labels, v)]
        else:
            group.append((labels, v))
    if op in ("topk", "bottomk", "approx_topk"):
        k = int(param if param is not None else 0)
        out: StepVector = []
        for members in groups.values():
            if op == "bottomk":
                ranked = sorted(members, key=lambda s: (not (s[1] == s[1]), s[1] if s[1] == s[1] else 0))
            else:
                ranked = sorted(members, key=lambda s: _nan_low(s[1]), reverse=True)
            out.extend(ranked[:k])
        return out
    fn = AGGREGATORS.get(op)
    if fn is None:
        raise LogQLEvalError(f"unsupported vector aggregation {op}")
    return [(key, fn([v for _, v in members])) for key, members in groups.items()]


def _sum(values: Sequence[float]) -> float:
    total = 0.0
    for v in values:
        total += v
    return total


_avg = incremental_mean


def _max(values: Sequence[float]) -> float:
    best = values[0]
    for v in values:
        if v > best or best != best:
            best = v
    return best


def _min(values: Sequence[float]) -> float:
    best = values[0]
    for v in values:
        if v < best or best != best:
            best = v
    return best


def _stdvar(values: Sequence[float]) -> float:
    count = 0
    mean = aux = 0.0
    for v in values:
        count += 1
        delta = v - mean
        mean += delta / count
        aux += delta * (v - mean)
    return aux / count


def _stddev(values: Sequence[float]) -> float:
    var = _stdvar(values)
    return math.sqrt(var) if var == var and var >= 0 else math.nan


AGGREGATORS: dict[str, Callable[[Sequence[float]], float]] = {
    "sum": _sum,
    "avg": _avg,
    "max": _max,
    "min": _min,
    "count": lambda values: float(len(values)),
    "stdvar": _stdvar,
    "stddev": _stddev,
}


def sort_vector(vec: StepVector, *, descending: bool) -> StepVector:
    """``sort``/``sort_desc`` by value; NaN sorts last either way, ties by labels."""
    finite = [s for s in vec if s[1] == s[1]]
    nans = [s for s in vec if s[1] != s[1]]
    finite.sort(key=lambda s: s[0].pairs)
    finite.sort(key=lambda s: s[1], reverse=descending)
    return finite + sorted(nans, key=lambda s: s[0].pairs)


# --- functions ------------------------------------------------------------------------------


def expand_template(template: str, match: Any, group_names: dict[str, int]) -> str:
    """Go's ``Regexp.ExpandString``: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``."""
    out: list[str] = []
    i = 0
    n = len(template)
    while i < n:
        j = template.find("$", i)
        if j < 0:
            out.append(template[i:])
            break
        out.append(template[i:j])
        i = j + 1
        if i < n and template[i] == "$":
            out.append("$")
            i += 1
            continue
        brace = i < n and template[i] == "{"
        k = i + 1 if brace else i
        start = k
        while k < n and (template[k].isalnum() or template[k] == "_") and template[k].isascii():
            k += 1
        name = template[start:k]
        if not name or (brace and (k >= n or template[k] != "}")):
            out.append("$")  # malformed: the dollar is literal text
            continue
        i = k + 1 if brace else k
        if name.isdigit() and not (len(name) > 1 and name[0] == "0"):
            idx = int(name)
        else:
            idx = group_names.get(name, -1)
        if idx >= 0:
            try:
                text = match.group(idx)
            except (IndexError, ValueError):
                text = None
            if text:
                out.append(text)
    return "".join(out)


def label_replace(vec: StepVector, dst: str, replacement: str, src: str, regex: str) -> StepVector:
    """Prometheus' ``label_replace``: an anchored match on ``src`` rewrites ``dst``."""
    pattern = compile_regex(f"^(?:{regex})$")
    names = dict(pattern.groupindex)
    out: StepVector = []
    for labels, v in vec:
        m = pattern.match(labels.get(src))
        if m is None:
            out.append((labels, v))
            continue
        value = expand_template(replacement, m, names)
        pairs = [p for p in labels.pairs if p[0] != dst]
        if value:
            pairs.append((dst, value))
        out.append((make_labels(pairs), v))
    return out
