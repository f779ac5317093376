"""Compiled LogQL log-pipeline stages (the equivalent of Loki's ``pkg/logql/log``).

Everything here takes plain values (strings, lists of pairs, operators as strings), so the
evaluator maps AST nodes to constructors one to one:

* ``|= "a"``, ``!~ "re"``, ``|> "p <_>"`` → ``line_filter(op, value)``;
  ``|= "a" or ip("1.2.3.4")`` → ``line_filter_or(op, [("a", False), ("1.2.3.4", True)])``
* ``| json`` → ``JSONParser()``; ``| json a="b.c"`` → ``JSONExpressionParser([("a", "b.c")])``
* ``| logfmt --strict --keep-empty`` → ``LogfmtParser(strict, keep_empty)``;
  ``| logfmt --strict a, b="c"`` → ``LogfmtExpressionParser([("a", "a"), ("b", "c")], strict)``
* ``| regexp "re"`` → ``RegexpParser(re)``; ``| pattern "p"`` → ``PatternParser(p)``;
  ``| unpack`` → ``UnpackParser()``
* ``| a="x"``, ``| a=~"re"`` → ``StringLabelFilter(name, op, value)``;
  ``| a > 1.5`` → ``NumericLabelFilter(name, op, 1.5)``;
  ``| a > 10s`` → ``DurationLabelFilter(name, op, parse_duration_literal("10s"))``;
  ``| a > 1KB`` → ``BytesLabelFilter(name, op, parse_bytes_literal("1KB"))``;
  ``| a = ip("10.0.0.0/8")`` → ``IPLabelFilter(name, "=", pattern)``;
  ``and`` (also ``,`` and a space) / ``or`` → ``AndLabelFilter(l, r)`` / ``OrLabelFilter(l, r)``
* ``| line_format "t"`` → ``LineFormatter(t)``;
  ``| label_format a=b, c="{{.d}}"`` →
  ``LabelsFormatter([("a", "b", False), ("c", "{{.d}}", True)])``
* ``| drop a, b="v"`` → ``DropLabels([("a", None, None), ("b", "=", "v")])``; ``KeepLabels`` alike
* ``| decolorize`` → ``Decolorize()``

``Pipeline(stages).for_stream(labels)`` then runs them; see :mod:`.pipeline`.
"""

from __future__ import annotations

from lokipy.logql.log.drop_keep import DropLabels, KeepLabels
from lokipy.logql.log.filters import (
    AndFilter,
    ContainsFilter,
    IPLineFilter,
    LineFilter,
    OrFilter,
    PatternFilter,
    RegexFilter,
    chain,
    line_filter,
    line_filter_or,
)
from lokipy.logql.log.fmt import Decolorize, LabelsFormatter, LineFormatter
from lokipy.logql.log.label_filters import (
    AndLabelFilter,
    BytesLabelFilter,
    DurationLabelFilter,
    IPLabelFilter,
    NumericLabelFilter,
    OrLabelFilter,
    StringLabelFilter,
)
from lokipy.logql.log.labels import (
    ERR_JSON,
    ERR_LABEL_FILTER,
    ERR_LOGFMT,
    ERR_TEMPLATE_FORMAT,
    ERROR_DETAILS_LABEL,
    ERROR_LABEL,
    LabelPairs,
    LabelsBuilder,
)
from lokipy.logql.log.parsers import (
    JSONExpressionParser,
    JSONParser,
    LogfmtExpressionParser,
    LogfmtParser,
    ParserError,
    PatternParser,
    RegexpParser,
    UnpackParser,
)
from lokipy.logql.log.pipeline import NOOP_PIPELINE, LineFilterStage, Pipeline, StreamPipeline
from lokipy.logql.log.template import TemplateExecError, TemplateParseError
from lokipy.logql.log.units import (
    ConversionError,
    parse_bytes,
    parse_bytes_literal,
    parse_duration,
    parse_duration_literal,
    parse_float,
)

__all__ = [
    "AndFilter", "AndLabelFilter", "BytesLabelFilter", "ContainsFilter", "ConversionError",
    "Decolorize", "DropLabels", "DurationLabelFilter", "ERR_JSON", "ERR_LABEL_FILTER",
    "ERR_LOGFMT", "ERR_TEMPLATE_FORMAT", "ERROR_DETAILS_LABEL", "ERROR_LABEL", "IPLabelFilter",
    "IPLineFilter", "JSONExpressionParser", "JSONParser", "KeepLabels", "LabelPairs",
    "LabelsBuilder", "LabelsFormatter", "LineFilter", "LineFilterStage", "LineFormatter",
    "LogfmtExpressionParser", "LogfmtParser", "NOOP_PIPELINE", "NumericLabelFilter",
    "OrFilter", "OrLabelFilter", "ParserError", "PatternFilter", "PatternParser", "Pipeline",
    "RegexFilter", "RegexpParser", "StreamPipeline", "StringLabelFilter", "TemplateExecError",
    "TemplateParseError", "UnpackParser", "chain", "line_filter", "line_filter_or",
    "parse_bytes", "parse_bytes_literal", "parse_duration", "parse_duration_literal",
    "parse_float",
]  # fmt: skip
