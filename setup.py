"""The optional C push decoder (``lokipy.wire._columns``); all other metadata is in pyproject.toml.

``optional=True``: without a C compiler the install still succeeds and pushes are decoded by
the pure-Python decoders, which give the same results, only slower.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("lokipy.wire._columns", ["lokipy/wire/_columns.c"], optional=True),
    ]
)
