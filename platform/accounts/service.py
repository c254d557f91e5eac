"""Registering, logging in, changing a password and finding users."""

from __future__ import annotations

from typing import Any

from holdfast.accounts.credentials import (
    check_name,
    check_new_password,
    email_key,
    normalise_email,
)
from holdfast.accounts.models import Role, User
from holdfast.accounts.sessions import SessionEnded, session_token
from holdfast.clock import zone
from holdfast.context import Context
from holdfast.errors import DomainError, ErrorKind, Unauthorized
from holdfast.events import Event
from holdfast.paging import Page, PageRequest, Segment, read_page
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError


class EmailTaken(DomainError):
    kind, code = ErrorKind.CONFLICT, "email_taken"


class WrongPassword(DomainError):
    kind, code = ErrorKind.FORBIDDEN, "wrong_password"


async def register(
    ctx: Context,
    *,
    email: str,
    password: str,
    name: str,
    timezone: str,
    role: Role = "client",
    phone: str | None = None,
    client_address: str | None = None,
) -> User:
    """A new account; `client_address`, when the request came over HTTP, is held to the
    registrations-per-hour limit (checked once the input is valid, before the argon2 work)."""
    address = normalise_email(email)
    name = check_name(name)
    check_new_password(password, email=address, name=name)
    zone(timezone)
    await ctx.indexes.require(
        "users.email_unique", refusing="Registration", because="email addresses stay unique"
    )
    if client_address is not None:
        await ctx.limiter.check_registration(client_address, ctx.now())
    user = User(
        email=address,
        email_key=address.lower(),
        name=name,
        timezone=timezone,
        phone=phone,
        role=role,
        password_hash=await ctx.passwords.hash(password),
        created_at=ctx.now(),
    )
    try:
        await user.insert()
    except DuplicateKeyError:
        raise EmailTaken(f"An account for {address} already exists; please log in.") from None
    await ctx.events.publish(Event("user-updated", {"user_id": str(user.id)}))
    return user


async def log_in(ctx: Context, *, email: str, password: str, address: str) -> tuple[str, User]:
    """Brute force slows down quickly: see `holdfast.ratelimits`."""
    account = email_key(email)
    await ctx.limiter.check_login(account, address, ctx.now())
    user = await User.find_one(User.email_key == account)
    # An unknown email costs the same argon2 work as a wrong password: timing tells nothing.
    matched = await ctx.passwords.verify(user.password_hash if user else None, password)
    if user is None or not matched:
        await ctx.limiter.login_failed(account, address, ctx.now())
        raise Unauthorized("The email or password is not right.", code="invalid_credentials")
    await ctx.limiter.login_succeeded(account, address)
    return session_token(ctx, user), user


async def change_password(
    ctx: Context, *, user: User, current: str, new: str, address: str
) -> tuple[str, User]:
    """Set a new password and end every session of the account; a token for a new session
    (the caller's) comes back. Guessing `current` is throttled like a login."""
    account = user.email_key
    await ctx.limiter.check_login(account, address, ctx.now())
    if not await ctx.passwords.verify(user.password_hash, current):
        await ctx.limiter.login_failed(account, address, ctx.now())
        raise WrongPassword("The current password is not right.")
    check_new_password(new, email=user.email, name=user.name)
    changed = await _end_all_sessions(
        ctx, user, {"password_hash": await ctx.passwords.hash(new)}, same_hash=True
    )
    if changed is None:  # another change won the race: this session ended with it
        raise SessionEnded("Your password was changed elsewhere; please log in again.")
    return session_token(ctx, changed), changed


async def _end_all_sessions(
    ctx: Context, user: User, changes: dict[str, Any], *, same_hash: bool = False
) -> User | None:
    """Apply `changes` and end every session of the account in one update; the user after it,
    or None when `same_hash` asked for the password to be unchanged meanwhile and it was not."""
    condition: dict[str, Any] = {"_id": user.id}
    if same_hash:
        condition["password_hash"] = user.password_hash
    found = await User.get_pymongo_collection().find_one_and_update(
        condition,
        {"$set": {**changes, "revoked_sessions": []}, "$inc": {"session_version": 1}},
        return_document=ReturnDocument.AFTER,
    )
    if found is None:
        return None
    await ctx.events.publish(Event("user-updated", {"user_id": str(user.id)}))
    changed: User = User.model_validate(found)
    return changed


async def find_users(page: PageRequest, *, email: str | None) -> Page[User]:
    """Users in email order (one, if `email` is given)."""
    where = {"email_key": email_key(email)} if email else {}
    segment = Segment(where, (("email_key", 1), ("_id", 1)))
    return await read_page(User, [segment], page, listing=f"users:{email!r}")


async def create_or_reset_admin(ctx: Context, *, email: str, password: str) -> tuple[User, bool]:
    """Create an admin, or make an existing account admin with this password (which ends its
    sessions: their tokens carry the old password and role). True if created."""
    existing = await User.find_one(User.email_key == email_key(email))
    if existing is None:
        return await register(
            ctx, email=email, password=password, name="Admin", timezone="UTC", role="admin"
        ), True
    check_new_password(password, email=existing.email, name=existing.name)
    changes = {"role": "admin", "password_hash": await ctx.passwords.hash(password)}
    reset = await _end_all_sessions(ctx, existing, changes)
    return reset or existing, False
