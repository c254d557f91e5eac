"""The Litestar application factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from holdfast.accounts.controllers import AccountController
from holdfast.availability.controllers import AvailabilityController
from holdfast.bookings.controllers import BookingController
from holdfast.cache.middleware import ResponseCacheMiddleware
from holdfast.calendly.controllers import CalendlyController, CalendlyWebhookController
from holdfast.catalog.controllers import CatalogAdminController, CatalogController
from holdfast.clock import Clock, system_clock
from holdfast.context import close_context, open_context
from holdfast.db import STARTUP_PATIENCE_SECONDS, keep_ensuring_indexes
from holdfast.inbox.controllers import InboxAdminController
from holdfast.integrations.controllers import GoogleNotificationController, IntegrationController
from holdfast.jobs.controllers import JobAdminController
from holdfast.monitoring.controllers import FunnelController, SettingsController, StatsController
from holdfast.monitoring.traffic import Traffic, keep_flushing
from holdfast.notifications.controllers import MessageAdminController
from holdfast.payments.controllers import (
    PaymentController,
    PaymentPageController,
    StripeWebhookController,
)
from holdfast.scheduling.controllers import RescheduleController, SchedulingAdminController
from holdfast.settings import Settings
from holdfast.waitlist.controllers import (
    CancellationWebhookController,
    OfferController,
    WaitlistAdminController,
    WaitlistController,
)
from holdfast.web.apidocs import ApiDocsPage
from holdfast.web.auth import provide_admin, provide_ctx, provide_user
from holdfast.web.bodies import json_bodies_only
from holdfast.web.console import ConsoleController
from holdfast.web.errors import EXCEPTION_HANDLERS
from holdfast.web.health import HealthController
from holdfast.web.metrics import RequestMetrics
from holdfast.web.openapi import ErrorResponses, PydanticSchemas, TruthfulAllow
from holdfast.web.pages import PageController
from holdfast.web.paging import provide_page
from holdfast.web.ratelimit import RateLimitMiddleware
from holdfast.web.security import CrossSiteRefusal, SecurityHeaders
from litestar import Litestar, Router
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

log = structlog.get_logger(__name__)
HERE = Path(__file__).parent


def create_app(settings: Settings, *, clock: Clock = system_clock) -> Litestar:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        ctx = await open_context(settings, clock, patience=STARTUP_PATIENCE_SECONDS)
        app.state.ctx = ctx
        app.state.traffic = traffic = Traffic()
        indexes = asyncio.create_task(keep_ensuring_indexes(ctx.indexes))
        counting = asyncio.create_task(keep_flushing(traffic, settings.traffic_flush_seconds))
        try:
            yield
        finally:
            indexes.cancel()
            counting.cancel()
            await asyncio.wait([counting])
            await close_context(ctx)

    docs = ApiDocsPage(path="/swagger", spec_url="/schema/openapi.json")
    # Everything a person or an API client calls: refused when cross-site with only a session,
    # rate limited, and answered from the cache where a rule says so.
    called = Router(
        path="/",
        route_handlers=[
            AccountController,
            CatalogController,
            CatalogAdminController,
            AvailabilityController,
            BookingController,
            HealthController,
            CalendlyController,
            InboxAdminController,
            IntegrationController,
            JobAdminController,
            MessageAdminController,
            WaitlistController,
            OfferController,
            WaitlistAdminController,
            StatsController,
            SettingsController,
            FunnelController,
            SchedulingAdminController,
            RescheduleController,
            PaymentController,
            PaymentPageController,
            PageController,
            ConsoleController,
            create_static_files_router(path="/static", directories=[HERE / "static"]),
        ],
        middleware=[CrossSiteRefusal(settings), RateLimitMiddleware(), ResponseCacheMiddleware()],
    )
    # The senders' webhooks: verified by a signature or token, never a session; never rate
    # limited (a sender's retries are its own) nor cached. Outside those three layers, an
    # acknowledgement pays for none of them (test_browser_security checks that every other
    # route keeps all three).
    webhooks = [
        CalendlyWebhookController,
        StripeWebhookController,
        GoogleNotificationController,
        CancellationWebhookController,
    ]
    return Litestar(
        route_handlers=[called, *webhooks],
        dependencies={
            "ctx": Provide(provide_ctx, sync_to_thread=False),
            "user": Provide(provide_user),
            "admin": Provide(provide_admin),
            "page": Provide(provide_page),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        # Litestar runs only the innermost layer's before_request: a controller that needs a
        # hook of its own must call this one too (test_bad_input checks every JSON endpoint).
        before_request=json_bodies_only,
        lifespan=[lifespan],
        # Metrics outermost (the app's layer runs before the router's), so cache hits and
        # webhooks are counted too.
        middleware=[RequestMetrics()],
        before_send=[
            SecurityHeaders(settings, docs_path="/schema/swagger", docs_assets=docs.asset_urls)
        ],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Holdfast",
            version="0.1.0",
            path="/schema",
            render_plugins=[
                JsonRenderPlugin(path=["/", "/openapi.json"]),
                docs,
            ],
        ),
        template_config=TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine),
        on_app_init=[_no_debug],
        plugins=[PydanticSchemas(), ErrorResponses(), TruthfulAllow()],
    )


def app_from_environment() -> Litestar:
    """For `holdfast api --workers N`: each worker process reads the same environment."""
    from holdfast.logs import configure_logging
    from holdfast.settings import load_settings

    configure_logging()
    return create_app(load_settings())


def _no_debug(config: AppConfig) -> AppConfig:
    config.debug = False
    return config
