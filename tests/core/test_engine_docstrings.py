"""The usage examples in the engine's docstrings run as written."""

from __future__ import annotations

import doctest

from tests.support.engine_source import interpreted_engine


def test_engine_docstring_examples_run() -> None:
    # the source module: doctest finds the examples of Python functions, not of compiled ones
    failures, tried = doctest.testmod(interpreted_engine(), verbose=False, report=True)
    assert tried >= 5
    assert failures == 0
