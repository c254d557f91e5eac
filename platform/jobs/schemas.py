from __future__ import annotations

from typing import Any

from holdfast.jobs.models import Job, JobState
from holdfast.schemas import UtcInstant
from pydantic import BaseModel


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

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls.model_validate(job.model_dump(include=set(cls.model_fields)))
