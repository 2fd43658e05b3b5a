"""The API server does not load pandas or pyarrow (about 100 MiB of memory it never uses)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def test_serving_the_api_does_not_import_pandas(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from fastapi.testclient import TestClient
        from tradeready.server.app import create_app
        from tradeready.server.settings import Settings

        assert "pandas" not in sys.modules and "pyarrow" not in sys.modules, "imported by the app module"
        with TestClient(create_app(Settings(home={str(tmp_path)!r}))) as client:
            assert client.get("/api/v1/health").status_code == 200
            assert client.get("/api/v1/account").status_code == 401
            assert client.post("/api/v1/training/runs", json={{}}).status_code == 401
        print(sorted(m for m in ("pandas", "pyarrow") if m in sys.modules))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
