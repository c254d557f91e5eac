from __future__ import annotations

from holdfast.accounts.models import Role, User
from holdfast.schemas import EMAIL_PATTERN, Input, TimeZoneName, UtcInstant
from pydantic import BaseModel, Field

PHONE_PATTERN = r"^\+[1-9]\d{6,14}$"  # E.164: SMS reminders and waitlist offers go here


class RegisterIn(Input):
    # The schema states what the account service checks (and names, as `invalid_email` and
    # `weak_password`); the pattern and length here are documentation only.
    email: str = Field(
        min_length=3,
        max_length=254,
        json_schema_extra={"pattern": EMAIL_PATTERN},
    )
    password: str = Field(min_length=1, max_length=256, json_schema_extra={"minLength": 8})
    name: str = Field(min_length=1, max_length=200)
    timezone: TimeZoneName = "UTC"
    phone: str | None = Field(default=None, pattern=PHONE_PATTERN)


class LoginIn(Input):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=256)


class PasswordResetIn(Input):
    email: str = Field(min_length=1, max_length=254)


class PasswordResetConfirmIn(Input):
    token: str = Field(min_length=1, max_length=2000)
    password: str = Field(min_length=1, max_length=256, json_schema_extra={"minLength": 8})


class ProfileIn(Input):
    """Only the fields sent change; `phone: null` removes the number."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: TimeZoneName | None = None
    phone: str | None = Field(default=None, pattern=PHONE_PATTERN)
    reminder_emails: bool | None = Field(
        default=None,
        description="Reminder emails before each session (confirmations, "
        "cancellations and security emails always go).",
    )


class PasswordChangeIn(Input):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    timezone: str
    phone: str | None
    reminder_emails: bool
    role: Role
    created_at: UtcInstant

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=str(user.id),
            email=user.email,
            name=user.name,
            timezone=user.timezone,
            phone=user.phone,
            reminder_emails=user.reminder_emails,
            role=user.role,
            created_at=user.created_at,
        )


class UserRef(BaseModel):
    """A person as lists name them: never by id alone."""

    id: str
    name: str
    email: str

    @classmethod
    def of(cls, user: User) -> UserRef:
        return cls(id=str(user.id), name=user.name, email=user.email)


class LoginOut(BaseModel):
    token: str
    user: UserOut
