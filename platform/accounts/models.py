from __future__ import annotations

from datetime import datetime
from typing import Literal

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel

Role = Literal["client", "admin"]


class RevokedSession(BaseModel):
    """A logged-out session whose token would otherwise still be valid until `until`."""

    sid: str
    until: datetime


class User(Document):
    email: str  # normalised by `holdfast.accounts.credentials.normalise_email`
    # Lower-cased email: the unique index makes uniqueness case-insensitive in the database.
    email_key: str
    name: str
    timezone: str
    phone: str | None = None  # E.164; SMS goes here when set
    reminder_emails: bool = True  # the client's choice; other booking and security mail always goes
    role: Role = "client"
    password_hash: str
    created_at: datetime
    # Sessions are checked against these on every authenticated request, which reads this
    # document anyway: ending sessions costs no extra round trip. A password change or an
    # admin reset increments the version (every token before it ends); logout adds one
    # session here until its token would have expired by itself.
    session_version: int = 0
    revoked_sessions: list[RevokedSession] = Field(default_factory=list)

    class Settings:
        name = "users"
        indexes = [IndexModel([("email_key", ASCENDING)], unique=True, name="email_unique")]

    def holds_session(self, *, version: int, sid: str) -> bool:
        return version == self.session_version and all(
            ended.sid != sid for ended in self.revoked_sessions
        )
