#!/usr/bin/env bash
# System packages the test suite needs: Debian's chromium for the dashboard's browser tests.
# Idempotent: does nothing when they are already there.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "chromium is missing; run: sudo apt-get install -y chromium" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
