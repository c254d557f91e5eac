"""Registering, logging in and finding users."""

from __future__ import annotations

import re
from datetime import timedelta

from beanie import PydanticObjectId
from holdfast.accounts.models import Role, User
from holdfast.accounts.passwords import hash_password, verify_password
from holdfast.accounts.tokens import issue_session_token
from holdfast.clock import zone
from holdfast.context import Context
from holdfast.errors import DomainError, ErrorKind, Invalid, Unauthorized
from holdfast.events import Event
from holdfast.paging import Page, PageRequest, Segment, read_page
from pymongo.errors import DuplicateKeyError

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class EmailTaken(DomainError):
    kind, code = ErrorKind.CONFLICT, "email_taken"


def email_key(email: str) -> str:
    return email.strip().lower()


def _check_new_account(email: str, password: str, name: str, timezone: str) -> None:
    if not _EMAIL.match(email) or len(email) > 254:
        raise Invalid(f"'{email}' is not an email address.", code="invalid_email")
    if not 8 <= len(password) <= 256:
        raise Invalid("The password must be between 8 and 256 characters.", code="weak_password")
    if not name.strip():
        raise Invalid("Please give a name.", code="invalid_name")
    zone(timezone)


async def register(
    ctx: Context,
    *,
    email: str,
    password: str,
    name: str,
    timezone: str,
    role: Role = "client",
    phone: str | None = None,
) -> User:
    _check_new_account(email, password, name, timezone)
    await ctx.indexes.require(
        "users.email_unique", refusing="Registration", because="email addresses stay unique"
    )
    user = User(
        email=email.strip(),
        email_key=email_key(email),
        name=name.strip(),
        timezone=timezone,
        phone=phone,
        role=role,
        password_hash=await hash_password(password),
        created_at=ctx.now(),
    )
    try:
        await user.insert()
    except DuplicateKeyError:
        raise EmailTaken(f"An account for {email.strip()} already exists; please log in.") from None
    await ctx.events.publish(Event("user-updated", {"user_id": str(user.id)}))
    return user


async def log_in(ctx: Context, *, email: str, password: str, address: str) -> tuple[str, User]:
    """Brute force slows down quickly: see `holdfast.web.ratelimit`."""
    account = email_key(email)
    await ctx.limiter.check_login(account, address, ctx.now())
    user = await User.find_one(User.email_key == account)
    if user is None or not await verify_password(user.password_hash, password):
        await ctx.limiter.login_failed(account, address, ctx.now())
        raise Unauthorized("The email or password is not right.", code="invalid_credentials")
    await ctx.limiter.login_succeeded(account)
    return session_token(ctx, user), user


def session_token(ctx: Context, user: User) -> str:
    return issue_session_token(
        user_id=str(user.id),
        secret=ctx.settings.secret_key.get_secret_value(),
        now=ctx.now(),
        lifetime=timedelta(hours=ctx.settings.session_hours),
        role=user.role,
    )


async def token_user(user_id: str) -> User:
    """The account a valid token names (one plain read: this runs on every request)."""
    found = None
    if PydanticObjectId.is_valid(user_id):
        found = await User.get_pymongo_collection().find_one({"_id": PydanticObjectId(user_id)})
    if found is None:
        raise Unauthorized("Your account no longer exists; please register again.")
    user: User = User.model_validate(found)
    return user


async def find_users(page: PageRequest, *, email: str | None) -> Page[User]:
    """Users in email order (one, if `email` is given)."""
    where = {"email_key": email_key(email)} if email else {}
    segment = Segment(where, (("email_key", 1), ("_id", 1)))
    return await read_page(User, [segment], page, listing=f"users:{email!r}")


async def create_or_reset_admin(ctx: Context, *, email: str, password: str) -> tuple[User, bool]:
    """Create an admin, or make an existing account admin with this password. True if created."""
    existing = await User.find_one(User.email_key == email_key(email))
    if existing is None:
        return await register(
            ctx, email=email, password=password, name="Admin", timezone="UTC", role="admin"
        ), True
    _check_new_account(email, password, existing.name, existing.timezone)
    existing.role = "admin"
    existing.password_hash = await hash_password(password)
    await existing.save()
    await ctx.events.publish(Event("user-updated", {"user_id": str(existing.id)}))
    return existing, False
