from __future__ import annotations

from typing import Any

from holdfast.accounts.schemas import UserRef
from holdfast.jobs.about import About
from holdfast.jobs.models import Job, JobState
from holdfast.schemas import UtcInstant
from pydantic import BaseModel, Field


class JobOut(BaseModel):
    id: str
    kind: str
    subject: str
    payload: dict[str, Any]
    run_at: UtcInstant
    state: JobState
    attempts: int
    last_error: str | None
    created_at: UtcInstant
    updated_at: UtcInstant
    finished_at: UtcInstant | None
    died_at: UtcInstant | None = Field(
        default=None, description="When it ran out of attempts (a dead job only)."
    )
    booking_id: str | None = Field(default=None, description="The booking it works for, if any.")
    client: UserRef | None = Field(
        default=None, description="Whom it is about (the booking's, offer's or payment's client)."
    )

    @classmethod
    def of(cls, job: Job, about: About | None = None) -> JobOut:
        out = cls.model_validate(
            job.model_dump(include=set(Job.model_fields) & set(cls.model_fields))
        )
        out.died_at = job.finished_at if job.state == "dead" else None
        if about is not None:
            out.booking_id = str(about.booking_id) if about.booking_id else None
            out.client = UserRef.of(about.client) if about.client else None
        return out
