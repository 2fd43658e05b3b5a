"""Build hook of ``tradeready-core``: compiles the simulation engine with mypyc.

``tradeready_core/engine.py`` is plain, strictly typed Python; mypyc (the compiler that ships with
mypy) turns that same file into a C extension, several times faster per step, with identical
results (``-ffp-contract=off``: no fused multiply-add, so every float operation rounds exactly as
the interpreter's does; ``tests/core/test_engine_compiled.py`` checks it bit for bit against the
interpreted source). Everything else in the package stays interpreted.

Set ``TRADEREADY_PURE_PYTHON=1`` when installing to skip the compilation (no C compiler needed);
the engine then runs interpreted, with the same results, slower.
"""

from __future__ import annotations

import os

from setuptools import setup

ENGINE = "src/tradeready_core/engine.py"

ext_modules = []
if os.environ.get("TRADEREADY_PURE_PYTHON", "") not in ("1", "true", "yes"):
    from mypyc.build import mypycify

    # an empty --config-file: the repository's mypy settings (plugins of other packages) are not the build's
    ext_modules = mypycify(["--config-file=", ENGINE], opt_level="3")
    for ext in ext_modules:
        ext.extra_compile_args = [*ext.extra_compile_args, "-ffp-contract=off"]

setup(ext_modules=ext_modules)
