"""Config Service: the ASGI application and the command that serves it.

python main.py [--reload]
"""

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from api import health
from api.errors import install_error_handlers
from api.middleware import BodyLimitMiddleware, RequestContextMiddleware
from api.schema import build_openapi
from api.v1.router import router as api_v1
from config.logging import configure_logging
from config.settings import Settings, SettingsError, get_settings, load_settings
from database.embedded import resolve_database_url
from database.listener import Listener
from database.migrations import apply_migrations
from database.pool import Database, PoolOptions
from services.applications import ApplicationService
from services.audit import AuditService
from services.change_feed import ChangeFeed
from services.configurations import ConfigurationService
from services.health import HealthService
from services.watches import ConfigurationWatcher

VERSION = "1.0.0"
CHANGES_CHANNEL = "config_changes"  # the channel sql/0004.change-feed.sql notifies
# Open event streams and long polls never end by themselves: at shutdown they get this
# long to finish, then are cut (clients reconnect and resume).
SHUTDOWN_GRACE_S = 5

logger = logging.getLogger("config_service")


def pool_options(settings: Settings) -> PoolOptions:
    return PoolOptions(
        min_connections=settings.db_min_connections,
        max_connections=settings.db_max_connections,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        connect_timeout_s=settings.db_connect_timeout_s,
        acquire_timeout_s=settings.db_acquire_timeout_s,
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    url = await asyncio.to_thread(resolve_database_url, settings)
    if settings.migrate_on_start:
        applied = await asyncio.to_thread(apply_migrations, url)
        if applied:
            logger.info("applied migrations: %s", ", ".join(applied))
    db = Database(url, pool_options(settings))
    await asyncio.to_thread(db.open)
    feed = ChangeFeed(db)
    await feed.start()
    listener = Listener(
        url,
        CHANGES_CHANNEL,
        on_notify=feed.notify,
        on_connect=feed.notify,  # (re)connected: whatever was notified meanwhile was missed
        connect_timeout_s=settings.db_connect_timeout_s,
    )
    await listener.start()
    configurations = ConfigurationService(db)
    app.state.applications = ApplicationService(db)
    app.state.configurations = configurations
    app.state.health = HealthService(db)
    app.state.audit = AuditService(db)
    app.state.feed = feed
    app.state.watcher = ConfigurationWatcher(configurations, feed)
    try:
        yield
    finally:
        await listener.close()
        await feed.stop()
        await asyncio.to_thread(db.close)


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="Config Service",
        version=VERSION,
        description="Applications and their named JSON configurations.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)  # added last, so outermost: sees every response
    app.include_router(health.router)
    app.include_router(api_v1)
    app.openapi = lambda: build_openapi(app)
    return app


def app_from_environment() -> FastAPI:
    """The factory uvicorn calls in each worker process."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the Config Service.")
    parser.add_argument("--reload", action="store_true", help="restart when the code changes")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"config-service: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    if settings.database_url is None:
        # Started here, in the parent, so that reloaded workers keep one running server.
        os.environ["DATABASE_URL"] = resolve_database_url(settings)
    uvicorn.run(
        "main:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        reload=args.reload,
        reload_excludes=[".data/*"] if args.reload else None,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
