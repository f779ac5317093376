"""The C column decoders (``_columns.c``), when lokipy was built with them.

``columns`` is the extension module, or None: installed without a C compiler, or switched
off with ``LOKIPY_PURE_PYTHON=1`` (to compare, or to rule the C code out when debugging).
The Python decoders give the same results either way; the C ones only skip building one
``bytes`` object per line.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType


def _load() -> ModuleType | None:
    if os.environ.get("LOKIPY_PURE_PYTHON"):
        return None
    try:
        return importlib.import_module("lokipy.wire._columns")
    except ImportError:  # built without a C compiler
        return None


columns: ModuleType | None = _load()
