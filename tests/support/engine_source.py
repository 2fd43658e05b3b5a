"""The simulation engine's source run by the interpreter, beside the compiled module everything imports.

``tradeready_core.engine`` is compiled with mypyc at install (``packages/core/setup.py``); this loads
the same ``engine.py`` as plain Python under another module name, so tests can check the two
bit for bit and subclass the interpreted classes (compiled classes cannot be subclassed from Python).
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import tradeready_core
import tradeready_core.engine

__all__ = ["ENGINE_SOURCE", "engine_is_compiled", "interpreted_engine"]

ENGINE_SOURCE = Path(tradeready_core.__file__).with_name("engine.py")


def engine_is_compiled() -> bool:
    """Whether ``tradeready_core.engine`` was imported from a compiled extension module."""
    return not str(tradeready_core.engine.__file__).endswith(".py")


@cache
def interpreted_engine() -> ModuleType:
    """``engine.py`` executed by the interpreter, as module ``tradeready_core._engine_interpreted``."""
    name = "tradeready_core._engine_interpreted"
    spec = importlib.util.spec_from_file_location(name, ENGINE_SOURCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module
