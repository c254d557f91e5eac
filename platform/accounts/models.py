from __future__ import annotations

from datetime import datetime
from typing import Literal

from beanie import Document
from pymongo import ASCENDING, IndexModel

Role = Literal["client", "admin"]


class User(Document):
    email: str
    # Lower-cased email: the unique index makes uniqueness case-insensitive in the database.
    email_key: str
    name: str
    timezone: str
    phone: str | None = None  # E.164; SMS goes here when set
    role: Role = "client"
    password_hash: str
    created_at: datetime

    class Settings:
        name = "users"
        indexes = [IndexModel([("email_key", ASCENDING)], unique=True, name="email_unique")]
