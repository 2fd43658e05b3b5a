"""A short-lived, per-process cache of verified API keys.

Verifying a key costs a database round trip on every request; remote stepping sends thousands of
requests per second with the same key. A worker may reuse a verification for ``ttl_s`` seconds
(``Settings.auth_cache_ttl_s``, default 2 s). The database stays the only authority: the cache holds
no state that another worker needs, a key revoked through this worker is dropped at once, and a key
revoked through another worker stops working within ``ttl_s``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from tradeready.server.store.models import Account, ApiKey

__all__ = ["AccountRef", "AuthCache", "CachedAuth", "KeyRef"]


@dataclass(frozen=True, slots=True)
class AccountRef:
    """An immutable snapshot of the calling account (safe to share between requests and threads)."""

    id: str
    name: str
    created_at: datetime

    @classmethod
    def of(cls, account: Account) -> AccountRef:
        return cls(account.id, account.name, account.created_at)


@dataclass(frozen=True, slots=True)
class KeyRef:
    """An immutable snapshot of the API key used."""

    id: str
    name: str
    prefix: str

    @classmethod
    def of(cls, key: ApiKey) -> KeyRef:
        return cls(key.id, key.name, key.prefix)


@dataclass(frozen=True, slots=True)
class CachedAuth:
    account: AccountRef
    key: KeyRef
    expires_at: float


class AuthCache:
    """Maps sha256(key) to a verified (account, key) pair until it expires."""

    def __init__(self, ttl_s: float, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[str, CachedAuth] = {}
        self._lock = threading.Lock()

    @staticmethod
    def digest(plaintext: str) -> str:
        return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()

    def get(self, digest: str) -> CachedAuth | None:
        if self.ttl_s <= 0:
            return None
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if entry.expires_at <= self.clock():
            with self._lock:
                self._entries.pop(digest, None)
            return None
        return entry

    def put(self, digest: str, account: AccountRef, key: KeyRef) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                now = self.clock()
                self._entries = {d: e for d, e in self._entries.items() if e.expires_at > now}
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
            self._entries[digest] = CachedAuth(account, key, self.clock() + self.ttl_s)

    def forget_key(self, key_id: str) -> None:
        """Drop every entry of ``key_id`` (called when a key is revoked through this worker)."""
        with self._lock:
            self._entries = {d: e for d, e in self._entries.items() if e.key.id != key_id}
