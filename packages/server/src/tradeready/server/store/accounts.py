"""The accounts store: accounts and hashed API keys.

API keys look like ``ak_live_<43 url-safe chars>``. Only ``sha256(key)`` and a short readable prefix
are stored; lookups go by prefix and the hash is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from tradeready.server.store.models import Account, ApiKey, new_id, utcnow

__all__ = ["KEY_PREFIX", "AccountStore", "CreatedKey", "hash_key", "key_prefix"]

KEY_PREFIX = "ak_live_"
_PREFIX_LEN = len(KEY_PREFIX) + 8


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_prefix(key: str) -> str:
    return key[:_PREFIX_LEN]


@dataclass(frozen=True)
class CreatedKey:
    """A freshly created key: the only moment the plaintext exists."""

    key: ApiKey
    plaintext: str


class AccountStore:
    """Accounts and API keys in one SQLAlchemy session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create_account(self, name: str) -> tuple[Account, CreatedKey]:
        account = Account(id=new_id("acc"), name=name, created_at=utcnow())
        self.session.add(account)
        self.session.flush()
        created = self.create_key(account.id, "default")
        return account, created

    def get_account(self, account_id: str) -> Account | None:
        return self.session.get(Account, account_id)

    def get_account_by_name(self, name: str) -> Account | None:
        return self.session.scalar(select(Account).where(Account.name == name))

    def list_accounts(self) -> list[Account]:
        return list(self.session.scalars(select(Account).order_by(Account.created_at)))

    def create_key(self, account_id: str, name: str) -> CreatedKey:
        plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            id=new_id("key"),
            account_id=account_id,
            name=name,
            prefix=key_prefix(plaintext),
            key_hash=hash_key(plaintext),
            created_at=utcnow(),
        )
        self.session.add(key)
        self.session.flush()
        return CreatedKey(key=key, plaintext=plaintext)

    def list_keys(self, account_id: str) -> list[ApiKey]:
        stmt = select(ApiKey).where(ApiKey.account_id == account_id).order_by(ApiKey.created_at)
        return list(self.session.scalars(stmt))

    def get_key(self, account_id: str, key_id: str) -> ApiKey | None:
        key = self.session.get(ApiKey, key_id)
        if key is None or key.account_id != account_id:
            return None
        return key

    def revoke_key(self, key: ApiKey) -> ApiKey:
        if key.revoked_at is None:
            key.revoked_at = utcnow()
        self.session.flush()
        return key

    def authenticate(self, plaintext: str) -> tuple[Account, ApiKey] | None:
        """The account and key for ``plaintext``, or ``None`` when unknown or revoked."""
        if not plaintext.startswith(KEY_PREFIX):
            return None
        digest = hash_key(plaintext)
        stmt = select(ApiKey).options(joinedload(ApiKey.account)).where(ApiKey.prefix == key_prefix(plaintext))
        candidates = self.session.scalars(stmt)
        for key in candidates:
            if hmac.compare_digest(key.key_hash, digest) and key.revoked_at is None:
                return key.account, key
        return None
