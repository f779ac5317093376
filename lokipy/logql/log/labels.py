"""The per-line label builder every pipeline stage reads and writes (Loki's ``LabelsBuilder``).

A line's labels come from three sources with a precedence: stream labels, structured metadata
and parsed (extracted) labels. Loki keeps at most one value per name in the "added" set, and a
later source only overrides an earlier one in this order: parsed > metadata > stream. Parsers
decide clashes the other way round (see :meth:`LabelsBuilder.base_has`): a parsed field whose
name is already a stream label or a metadata label is stored as ``<name>_extracted``.

``__error__`` and ``__error_details__`` are held apart from the other labels (a parser sets them,
``| __error__=""`` reads them, ``drop __error__`` clears them) and only join the final set.
"""

from __future__ import annotations

from collections.abc import Iterable

ERROR_LABEL = "__error__"
ERROR_DETAILS_LABEL = "__error_details__"
DUPLICATE_SUFFIX = "_extracted"

STREAM = 0
METADATA = 1
PARSED = 2

# Loki's error label values.
ERR_JSON = "JSONParserErr"
ERR_LOGFMT = "LogfmtParserErr"
ERR_LABEL_FILTER = "LabelFilterErr"
ERR_TEMPLATE_FORMAT = "TemplateFormatErr"
ERR_SAMPLE_EXTRACTION = "SampleExtractionErr"

LabelPairs = tuple[tuple[str, str], ...]
"""A final label set: (name, value) pairs sorted by name; empty values are kept (Loki does)."""


class LabelsBuilder:
    """Mutable label state of one line; reset and reused for every line of a stream."""

    __slots__ = ("base", "base_map", "added", "category", "deleted", "err", "err_details")

    def __init__(self, base: Iterable[tuple[str, str]] = ()) -> None:
        self.base: LabelPairs = tuple(sorted(base))
        self.base_map: dict[str, str] = dict(self.base)
        self.added: dict[str, str] = {}
        self.category: dict[str, int] = {}
        self.deleted: set[str] = set()
        self.err = ""
        self.err_details = ""

    def reset(self) -> None:
        if self.added:
            self.added = {}
            self.category = {}
        if self.deleted:
            self.deleted = set()
        self.err = ""
        self.err_details = ""

    # --- reading -----------------------------------------------------------------------

    def get(self, name: str) -> str | None:
        """The current value of ``name`` or None; parsed/metadata values shadow stream ones."""
        value = self.added.get(name)
        if value is not None:
            return value
        if name in self.deleted:
            return None
        return self.base_map.get(name)

    def get_with_category(self, name: str) -> tuple[str, int] | None:
        value = self.added.get(name)
        if value is not None:
            return value, self.category[name]
        if name in self.deleted:
            return None
        value = self.base_map.get(name)
        return None if value is None else (value, STREAM)

    def base_has(self, name: str) -> bool:
        """Whether a parsed field called ``name`` loses the name and becomes ``_extracted``.

        Stream labels and structured metadata both outrank parsed fields for the base name.
        """
        return name in self.base_map or self.category.get(name) == METADATA

    def has_err(self) -> bool:
        return self.err != ""

    def is_unchanged(self) -> bool:
        return not self.added and not self.deleted and not self.err and not self.err_details

    # --- writing -----------------------------------------------------------------------

    def set(self, category: int, name: str, value: str) -> None:
        """Set ``name``; a lower-precedence source never overwrites a higher one."""
        current = self.category.get(name)
        if current is not None and current > category:
            return
        self.added[name] = value
        self.category[name] = category

    def set_parsed(self, name: str, value: str) -> None:
        self.added[name] = value
        self.category[name] = PARSED

    def add_metadata(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Structured metadata of the line; a name clashing with a stream label gets the suffix."""
        base = self.base_map
        for name, value in pairs:
            if name in base:
                name += DUPLICATE_SUFFIX
            if name == ERROR_LABEL:
                self.err = value
            elif name == ERROR_DETAILS_LABEL:
                self.err_details = value
            else:
                self.set(METADATA, name, value)

    def delete(self, name: str) -> None:
        if name in self.added:
            del self.added[name]
            del self.category[name]
        self.deleted.add(name)

    def set_error(self, err: str, details: str | None = None) -> None:
        self.err = err
        if details:
            self.err_details = details

    # --- results -----------------------------------------------------------------------

    def as_dict(self) -> dict[str, str]:
        """Every current label (errors included) as a dict, for templates."""
        if not self.added and not self.deleted:
            out = dict(self.base_map)
        else:
            out = {n: v for n, v in self.base if n not in self.deleted}
            out.update(self.added)
        if self.err:
            out[ERROR_LABEL] = self.err
        if self.err_details:
            out[ERROR_DETAILS_LABEL] = self.err_details
        return out

    def labels(self) -> LabelPairs:
        """The final label set, sorted by name."""
        if not self.added and not self.deleted:
            if not self.err and not self.err_details:
                return self.base
        elif not self.deleted and not self.err and not self.err_details:
            # the common case after a parser: stream labels plus new names
            base_map = self.base_map
            added = self.added
            if not any(n in base_map for n in added):
                return tuple(sorted((*self.base, *added.items())))
        return tuple(sorted(self.as_dict().items()))

    def names(self) -> list[str]:
        names = [n for n, _ in self.base if n not in self.deleted and n not in self.added]
        names.extend(self.added)
        return names
