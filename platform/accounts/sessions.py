"""Login sessions: issuing their tokens, checking them on each request, ending them.

A token is valid while its signature and expiry hold and the account still holds its session:
the same session version, and the session not logged out (`User.holds_session`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from beanie import PydanticObjectId
from holdfast.accounts.models import User
from holdfast.accounts.tokens import Caller, issue_session_token
from holdfast.context import Context
from holdfast.errors import Unauthorized
from holdfast.events import Event

# Past this many logged-out sessions still within their lifetime, a logout ends every session
# of the account instead: the user document (read on every request) stays small.
MAX_REVOKED = 50


class SessionEnded(Unauthorized):
    code = "session_ended"


def session_token(ctx: Context, user: User) -> str:
    return issue_session_token(
        user_id=str(user.id),
        secret=ctx.settings.secret_key.get_secret_value(),
        now=ctx.now(),
        lifetime=timedelta(hours=ctx.settings.session_hours),
        role=user.role,
        version=user.session_version,
    )


async def token_user(caller: Caller) -> User:
    """The account a valid token names, if it still holds that session (one plain read: this
    runs on every authenticated request)."""
    found = None
    if PydanticObjectId.is_valid(caller.user_id):
        found = await User.get_pymongo_collection().find_one(
            {"_id": PydanticObjectId(caller.user_id)}
        )
    if found is None:
        raise Unauthorized("Your account no longer exists; please register again.")
    user: User = User.model_validate(found)
    if not user.holds_session(version=caller.version, sid=caller.session):
        raise SessionEnded(
            "This session has ended (logged out, or the password changed); please log in again."
        )
    return user


async def end_session(ctx: Context, caller: Caller) -> None:
    """Log this session out: its token (and any copy of it) stops working at once."""
    now = ctx.now()
    until = datetime.fromtimestamp(caller.expires, UTC)
    if not PydanticObjectId.is_valid(caller.user_id) or until <= now:
        return
    live: dict[str, Any] = {
        "$filter": {
            "input": {"$ifNull": ["$revoked_sessions", []]},
            "cond": {"$gt": ["$$this.until", now]},
        }
    }
    too_many = {"$gt": [{"$size": "$revoked_sessions"}, MAX_REVOKED]}
    version = {"$ifNull": ["$session_version", 0]}
    pipeline: list[dict[str, Any]] = [
        # Expired revocations are dropped on the way: their tokens fail on expiry anyway.
        {
            "$set": {
                "revoked_sessions": {
                    "$concatArrays": [live, [{"sid": caller.session, "until": until}]]
                }
            }
        },
        {
            "$set": {
                "session_version": {"$cond": [too_many, {"$add": [version, 1]}, version]},
                "revoked_sessions": {"$cond": [too_many, [], "$revoked_sessions"]},
            }
        },
    ]
    await User.get_pymongo_collection().update_one(
        {"_id": PydanticObjectId(caller.user_id)}, pipeline
    )
    await ctx.events.publish(Event("user-updated", {"user_id": caller.user_id}))
