from __future__ import annotations

from holdfast.accounts.models import Role, User
from holdfast.schemas import Input, UtcInstant
from pydantic import BaseModel, Field


class RegisterIn(Input):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=256)
    name: str = Field(min_length=1, max_length=200)
    timezone: str = Field(default="UTC", min_length=1, max_length=64)
    phone: str | None = Field(default=None, pattern=r"^\+[1-9]\d{6,14}$")


class LoginIn(Input):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=256)


class PasswordChangeIn(Input):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    timezone: str
    phone: str | None
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
            role=user.role,
            created_at=user.created_at,
        )


class LoginOut(BaseModel):
    token: str
    user: UserOut
