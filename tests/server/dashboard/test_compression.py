"""Gzip of the dashboard's pages and data answers (large ones, when accepted), on the live server."""

from __future__ import annotations

import gzip
from typing import Any

import httpx
from tests.server.dashboard.test_training_pages import make_run

from tradeready.server.dashboard.compression import MIN_SIZE


def raw_get(web: httpx.Client, path: str, encoding: str, **params: Any) -> tuple[httpx.Response, bytes]:
    """The response and its body as sent (``iter_raw``: httpx does not decode it)."""
    with web.stream("GET", path, params=params, headers={"Accept-Encoding": encoding}) as response:
        return response, b"".join(response.iter_raw())


def test_large_pages_and_data_are_gzipped_when_accepted(web: httpx.Client, api: httpx.Client) -> None:
    run_id = make_run(api, "gzip", [float(i % 5) for i in range(1, 201)])
    for path, params in (
        (f"/training/{run_id}", {}),
        ("/training", {}),
        ("/backtests", {}),
        (f"/dashboard-api/training/runs/{run_id}/learning-curve", {"window": 5}),
    ):
        packed, packed_body = raw_get(web, path, "gzip, deflate", **params)
        plain, plain_body = raw_get(web, path, "identity", **params)
        assert packed.status_code == plain.status_code == 200, path
        assert packed.headers["content-encoding"] == "gzip", path
        assert "Accept-Encoding" in packed.headers["vary"] and "Accept-Encoding" in plain.headers["vary"]
        assert "content-encoding" not in plain.headers
        body = gzip.decompress(packed_body)
        assert body == plain_body or path == "/training"  # (its ages and durations tick between requests)
        assert len(plain_body) >= MIN_SIZE and len(packed_body) < len(plain_body) / 2
        assert int(packed.headers["content-length"]) == len(packed_body)
        if path.startswith("/dashboard-api"):
            assert body.startswith(b'{"metric":"roi_pct"')
        else:
            assert body.lower().startswith(b"<!doctype html>")


def test_small_answers_and_refusals_are_sent_as_they_are(web: httpx.Client, api: httpx.Client) -> None:
    run_id = make_run(api, "small", [1.0, 2.0])
    tiny, tiny_body = raw_get(web, f"/dashboard-api/training/runs/{run_id}/learning-curve", "gzip", since_episode=2)
    assert tiny.status_code == 200 and len(tiny_body) < MIN_SIZE
    assert "content-encoding" not in tiny.headers
    refused, _ = raw_get(web, f"/training/{run_id}", "gzip;q=0, identity")
    assert refused.status_code == 200 and "content-encoding" not in refused.headers
