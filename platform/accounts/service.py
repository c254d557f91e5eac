"""Registering, logging in, changing a password and finding users."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from beanie import PydanticObjectId
from holdfast.accounts.credentials import (
    check_name,
    check_new_password,
    email_key,
    normalise_email,
)
from holdfast.accounts.models import Role, User
from holdfast.accounts.sessions import SessionEnded, session_token
from holdfast.catalog.service import object_id
from holdfast.clock import zone
from holdfast.context import Context
from holdfast.db import by_id
from holdfast.errors import DomainError, ErrorKind, NotFound, Unauthorized
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
    changed = await end_all_sessions(
        ctx, user, {"password_hash": await ctx.passwords.hash(new)}, same_hash=True
    )
    if changed is None:  # another change won the race: this session ended with it
        raise SessionEnded("Your password was changed elsewhere; please log in again.")
    return session_token(ctx, changed), changed


async def end_all_sessions(
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


async def update_profile(ctx: Context, user: User, changes: dict[str, Any]) -> User:
    """Set the fields in `changes` (name, timezone, phone, reminder_emails; a phone of None
    removes the number) and nothing else; the user after it."""
    allowed = {"name", "timezone", "phone", "reminder_emails"}
    update = {k: v for k, v in changes.items() if k in allowed}
    if update.get("name") is not None:
        update["name"] = check_name(update["name"])
    for required in ("name", "timezone", "reminder_emails"):
        if required in update and update[required] is None:
            del update[required]  # these cannot be removed: null leaves them as they are
    if update.get("timezone") is not None:
        zone(update["timezone"])
    if not update:
        return user
    found = await User.get_pymongo_collection().find_one_and_update(
        {"_id": user.id}, {"$set": update}, return_document=ReturnDocument.AFTER
    )
    if found is None:
        raise Unauthorized("Your account no longer exists; please register again.")
    await ctx.events.publish(Event("user-updated", {"user_id": str(user.id)}))
    updated: User = User.model_validate(found)
    return updated


async def find_users(page: PageRequest, *, email: str | None, q: str | None = None) -> Page[User]:
    """Users in email order: one, if `email` is given; those whose email, or any word of whose
    name, starts with `q` (any case), if that is given."""
    where: dict[str, Any] = {"email_key": email_key(email)} if email else {}
    if q:
        # Email prefixes walk the unique email index; name words are matched by a scan, which
        # a practice's few thousand clients make cheap.
        prefix = re.escape(q.strip().lower())
        where["$or"] = [
            {"email_key": {"$regex": f"^{prefix}"}},
            {"name": {"$regex": f"(^|\\s){re.escape(q.strip())}", "$options": "i"}},
        ]
    segment = Segment(where, (("email_key", 1), ("_id", 1)))
    return await read_page(User, [segment], page, listing=f"users:{email!r}:{q!r}")


async def get_user(user_id: str) -> User:
    user = await User.get(object_id(user_id, "user"))
    if user is None:
        raise NotFound(f"There is no user with id {user_id}.", code="user_not_found")
    return user


async def users_by_id(ids: Iterable[PydanticObjectId]) -> dict[PydanticObjectId, User]:
    """The users with these ids, in one round trip (for lists that name their clients)."""
    return await by_id(User, ids)


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
    reset = await end_all_sessions(ctx, existing, changes)
    return reset or existing, False
