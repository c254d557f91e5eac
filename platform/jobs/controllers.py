from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, get_args

from holdfast.jobs import service
from holdfast.jobs.about import about
from holdfast.jobs.models import JobState
from holdfast.jobs.schemas import JobOut
from holdfast.web.auth import AdminUser, Ctx
from holdfast.web.openapi import answers
from holdfast.web.paging import PAGE_HEADERS, Paging, paged
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, QueryParameter


class JobAdminController(Controller):
    path = "/api/admin/jobs"
    tags = ["jobs"]

    @get("/", response_headers=PAGE_HEADERS)
    async def list_jobs(
        self,
        admin: AdminUser,
        page: Paging,
        request: Request[Any, Any, Any],
        job_state: Annotated[
            str | None, QueryParameter(name="state", schema_extra={"enum": get_args(JobState)})
        ] = None,
    ) -> Response[Sequence[JobOut]]:
        """Jobs, the most recently changed first, each naming the booking and client it is
        about; `state=dead` is the dead letters (retry each with POST .../retry)."""
        found = await service.list_jobs(job_state, page)
        named = await about(found.items)
        listed = [JobOut.of(j, named.get(j.id)) for j in found.items]
        return paged(request, listed, found.next_cursor)

    @post("/{job_id:str}/retry", status_code=200, opt=answers(service.JobNotRetryable))
    async def retry(self, job_id: FromPath[str], ctx: Ctx, admin: AdminUser) -> JobOut:
        """A dead (or cancelled) job runs again now with a fresh set of attempts."""
        job = await service.retry_job(job_id, ctx.now())
        await service.hand_off_now(ctx, job)
        return JobOut.of(job, (await about([job])).get(job.id))
