"""Account and API-key schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AccountPublic", "ApiKeyCreate", "ApiKeyCreated", "ApiKeyPublic", "ApiKeysPublic"]


class AccountPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    account_id: str = Field(validation_alias="id")
    name: str
    created_at: datetime


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="default", min_length=1, max_length=100)


class ApiKeyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    key_id: str = Field(validation_alias="id")
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    api_key: str = Field(description="The plaintext key. Shown once; store it now.")


class ApiKeysPublic(BaseModel):
    keys: list[ApiKeyPublic]
