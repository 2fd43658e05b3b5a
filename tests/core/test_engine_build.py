"""``TRADEREADY_PURE_PYTHON=1``: the core package builds without compiling, and that engine gives the same results."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
from tests.support.engine_source import ENGINE_SOURCE

from tradeready_core.engine import EngineConfig, replay

CORE = ENGINE_SOURCE.parents[2]  # packages/core

_EPISODE = """
import sys
import numpy as np
from tradeready_core import engine
rng = np.random.default_rng(7)
close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, (300, 2)), axis=0))
result = engine.replay(close, close * 1.01, close * 0.99, close, engine.EngineConfig(), "1h", 10,
                       rng.uniform(0.0, 0.6, (200, 2)))
sys.stdout.write(engine.__file__ + "\\n" + result.equity.tobytes().hex())
"""


def test_a_pure_python_build_has_no_extension_and_replays_bit_for_bit(tmp_path: Path) -> None:
    env = {**os.environ, "TRADEREADY_PURE_PYTHON": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    source = tmp_path / "core"  # a copy: a build writes next to its sources, and this one must not touch ours
    shutil.copytree(CORE, source, ignore=shutil.ignore_patterns("build", "*.so", "*.egg-info", "__pycache__"))
    build = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(tmp_path)]
    subprocess.run([*build, str(source)], check=True, env=env, capture_output=True, text=True)
    (wheel,) = tmp_path.glob("tradeready_core-*.whl")
    assert wheel.name.endswith("-py3-none-any.whl"), wheel.name  # no compiled code: any platform
    names = zipfile.ZipFile(wheel).namelist()
    assert "tradeready_core/engine.py" in names
    assert not [n for n in names if n.endswith((".so", ".pyd", ".c"))], names
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")

    # the wheel's engine, first on the path of a fresh interpreter, against this process's (compiled) one
    run_env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    done = subprocess.run([sys.executable, "-c", _EPISODE], check=True, env=run_env, capture_output=True, text=True)
    where, equity = done.stdout.splitlines()
    assert where == str(tmp_path / "site" / "tradeready_core" / "engine.py")
    rng = np.random.default_rng(7)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, (300, 2)), axis=0))
    here = replay(close, close * 1.01, close * 0.99, close, EngineConfig(), "1h", 10, rng.uniform(0.0, 0.6, (200, 2)))
    assert equity == here.equity.tobytes().hex()
