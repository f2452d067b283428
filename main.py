"""Config Service: the ASGI application and the command that serves it.

python main.py [--reload]
"""

import argparse
import asyncio
import atexit
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import uvicorn
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.types import Receive, Scope, Send

from api import health, ofrep
from api import metrics as metrics_endpoint
from api.auth import AuthMiddleware, Keys
from api.cached_reads import CachedReads
from api.compression import compression
from api.docs import install_docs
from api.errors import install_error_handlers
from api.fast_evaluations import FastEvaluations
from api.hosts import AllowedHostsMiddleware, allowed_host_names
from api.middleware import BodyLimitMiddleware, RequestContextMiddleware
from api.protocol import FAST_ANSWER, ON_SHUTDOWN, READ_TIMEOUT_S
from api.schema import build_openapi
from api.ui import install_ui
from api.v1.router import include_api_v1
from config import metrics
from config.logging import configure_logging, flush_logs
from config.settings import Settings, SettingsError, get_settings, load_settings
from database.embedded import resolve_database_url
from database.listener import Listener
from database.migrations import apply_migrations
from database.pool import Database, PoolOptions
from services.api_keys import ApiKeyService
from services.applications import ApplicationService
from services.audit import AuditService
from services.cache import RepresentationCache
from services.change_feed import ChangeFeed
from services.change_notifier import CHANGES_CHANNEL, ChangeNotifier
from services.configurations import ConfigurationService
from services.flags import FlagService
from services.health import HealthService
from services.keyring import KeyRing
from services.schemas import SchemaService
from services.secrets import SecretBox
from services.watches import ConfigurationWatcher

VERSION = "1.0.0"
# At shutdown, long polls are answered and event streams end at once (api/protocol.py);
# whatever request is still running this long after is cut.
SHUTDOWN_GRACE_S = 5
GAUGES_EVERY_S = 1.0

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
    _warn_of_weak_access(settings)
    url = await asyncio.to_thread(resolve_database_url, settings)
    if settings.migrate_on_start:
        applied = await asyncio.to_thread(apply_migrations, url, settings.db_connect_timeout_s)
        if applied:
            logger.info("applied migrations: %s", ", ".join(applied))
    # Whatever was opened is closed again, in reverse order, also when a later step fails.
    async with AsyncExitStack() as opened:
        opened.callback(flush_logs)
        opened.callback(metrics.process_exited, os.getpid())
        db = Database(url, pool_options(settings))
        await asyncio.to_thread(db.open)
        opened.push_async_callback(asyncio.to_thread, db.close)
        cache: RepresentationCache = app.state.cache
        keyring = app.state.keys.ring = KeyRing(db, settings.rate_limit_per_second)
        api_keys = ApiKeyService(db, settings.rate_limit_per_second, forget=keyring.forget)
        admin_key = settings.admin_api_key.get_secret_value() if settings.admin_api_key else None
        # Each commit is told to every process, this one included, after it is made.
        notifier = ChangeNotifier(db, CHANGES_CHANNEL)
        db.after_commit(notifier.committed)
        opened.push_async_callback(notifier.close)
        await api_keys.bootstrap(admin_key, settings.data_dir)
        opened.push_async_callback(keyring.drain)
        feed = ChangeFeed(db)
        feed.subscribe(cache.apply)
        feed.subscribe(keyring.apply)
        await feed.start()
        opened.push_async_callback(feed.stop)

        def listening() -> None:
            cache.resume()
            keyring.resume()
            feed.notify()  # whatever was notified while the listener was away was missed

        def deaf() -> None:
            # Changes elsewhere, revocations included, would go unheard meanwhile.
            cache.suspend()
            keyring.suspend()

        listener = Listener(
            url,
            CHANGES_CHANNEL,
            on_notify=feed.notify,
            on_connect=listening,
            on_disconnect=deaf,
            connect_timeout_s=settings.db_connect_timeout_s,
        )
        await listener.start()
        opened.push_async_callback(listener.close)
        schemas = SchemaService(db, box=SecretBox(settings.secrets_keys()), cache=cache)
        configurations = ConfigurationService(db, cache, schemas)
        app.state.applications = ApplicationService(db, cache)
        app.state.configurations = configurations
        app.state.flags = FlagService(db, cache)
        app.state.health = HealthService(db)
        app.state.audit = AuditService(db)
        app.state.api_keys = api_keys
        app.state.schemas = schemas
        app.state.feed = feed
        app.state.watcher = ConfigurationWatcher(configurations, feed)
        gauges = asyncio.get_running_loop().create_task(_publish_gauges(db))
        opened.callback(gauges.cancel)
        # For the server (api/protocol.py): as shutdown begins, long polls and event streams
        # end at once, answered as usual, rather than being cut when the grace runs out; and
        # a cached read is answered as soon as its head is in, with no task made for it.
        yield {
            READ_TIMEOUT_S: settings.request_read_timeout_s,
            ON_SHUTDOWN: feed.release_followers,
            FAST_ANSWER: app.cached_reads.answer,
        }


def _warn_of_weak_access(settings: Settings) -> None:
    if settings.anonymous_scope_list:
        logger.warning(
            "ANONYMOUS_SCOPES=%s: requests without a key may %s; never use this in production",
            settings.anonymous_scopes,
            " and ".join(settings.anonymous_scope_list),
        )
    if settings.admin_api_key and len(settings.admin_api_key.get_secret_value()) < 32:
        logger.warning("ADMIN_API_KEY is shorter than 32 characters: easy to guess; prefer a generated key")


async def _publish_gauges(db: Database) -> None:
    while True:
        db.publish_stats()
        await asyncio.sleep(GAUGES_EVERY_S)


class ConfigService(FastAPI):
    """FastAPI, with the fast paths at its front door: a plain read of a cached resource, and
    an evaluation of an application's cached flags, are answered before FastAPI and every
    middleware (api/cached_reads.py, api/fast_evaluations.py), which everything else goes
    through as usual."""

    cached_reads: CachedReads | None = None
    fast_evaluations: FastEvaluations | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.cached_reads is not None and await self.cached_reads.answered(scope, send):
            return
        if self.fast_evaluations is not None:  # an evaluation of cached flags (api/fast_evaluations.py)
            handed_on = await self.fast_evaluations.answered(scope, receive, send)
            if handed_on is None:
                return
            receive = handed_on
        await super().__call__(scope, receive, send)


def create_app(settings: Settings) -> ConfigService:
    app = ConfigService(
        title="Config Service",
        version=VERSION,
        description="Applications and their named JSON configurations.",
        lifespan=lifespan,
        docs_url=None,  # served by api/docs.py, with the assets from here rather than a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    # Made here, not in the lifespan: the fast read path below is built before that runs.
    app.state.cache = RepresentationCache(settings.cache_entries)
    app.state.keys = Keys()  # its ring is made in the lifespan, with the pool
    install_error_handlers(app)
    include_api_v1(app)
    app.include_router(ofrep.root_router)
    app.include_router(health.router)
    app.include_router(metrics_endpoint.router)
    install_docs(app)
    install_ui(app)
    templates, reads = _route_index(app)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(compression)
    # Nothing under /api/v1 is answered without a key.
    app.add_middleware(AuthMiddleware, settings=settings, keys=app.state.keys)
    if settings.cors_origin_list:
        # Outside authentication: a browser's preflight carries no key.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origin_list),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-Match",
                "If-None-Match",
                "X-Actor",
                "Last-Event-ID",
            ],
            expose_headers=[
                "ETag",
                "Location",
                "Link",
                "Retry-After",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
                "X-Request-ID",
            ],
        )
    host_names = allowed_host_names(settings)
    if host_names is not None:
        app.add_middleware(AllowedHostsMiddleware, names=host_names)
    # Added last, so outermost: it sees every response, errors included.
    app.add_middleware(RequestContextMiddleware, route_templates=templates)
    # Before all of the above: what it cannot answer as they would, it hands on to them.
    app.cached_reads = CachedReads(
        app.state.cache, app.state.keys, reads, host_names, cors=bool(settings.cors_origin_list)
    )
    app.fast_evaluations = FastEvaluations(
        app.state.cache,
        app.state.keys,
        host_names,
        cors=bool(settings.cors_origin_list),
        max_body_bytes=settings.max_body_bytes,
    )
    app.openapi = lambda: build_openapi(app)
    return app


CACHED_READS = {
    "/api/v1/configurations/{configuration_id}": "configuration",
    "/api/v1/applications/{application_id}": "application",
}


def _route_index(app: FastAPI) -> tuple[dict[int, str], dict[str, str]]:
    """Each route's full path template (a route in the scope knows only its own part), and
    the templates of the routes the fast read path answers for. A route that is not
    FastAPI's is found by its endpoint (api/middleware.py): a Route's function, a Mount's app."""
    templates, reads = {}, {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        templates[id(route)] = context.path_format
        if not isinstance(route, APIRoute):
            templates[id(getattr(route, "endpoint", None) or route.app)] = context.path_format
        if context.path_format in CACHED_READS and "GET" in getattr(context.original_route, "methods", ()):
            reads[CACHED_READS[context.path_format]] = context.path_format
    return templates, reads


def app_from_environment() -> FastAPI:
    """The factory uvicorn calls in each worker process."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)


def __getattr__(name: str) -> FastAPI:
    """`main.app`, for `uvicorn main:app`, `fastapi run main.py`, gunicorn's uvicorn workers
    and platforms that expect a module-level app: made from the environment on first use,
    once per process, so that importing this module (as the tests do) reads no settings."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _making_app:  # two threads asking at once get one app
        if "app" not in globals():
            globals()["app"] = app_from_environment()
    return globals()["app"]


_making_app = threading.Lock()


def __dir__() -> list[str]:
    # Tools find the app by listing the module (fastapi run does), before asking for it.
    return [*globals(), "app"]


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
    signal.signal(signal.SIGTERM, _exit_cleanly)
    if settings.database_url is None:
        # Started here, in the parent, so that every worker (and each reload) uses one server.
        os.environ["DATABASE_URL"] = resolve_database_url(settings)
    workers = 1 if args.reload else settings.web_concurrency
    if workers > 1 and not os.environ.get(metrics.MULTIPROCESS_DIR):
        os.environ[metrics.MULTIPROCESS_DIR] = _fresh_metrics_dir()
    uvicorn.run(
        "main:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        reload=args.reload,
        reload_excludes=[".data/*"] if args.reload else None,
        workers=workers,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        http="api.protocol:ServiceProtocol",
        # uvicorn refuses a request once this many connections are open, its own included.
        limit_concurrency=settings.max_connections + 1,
    )
    return 0


def _exit_cleanly(signum: int, frame: object) -> None:
    """SIGTERM (docker stop, systemd): uvicorn shuts down gracefully, then raises the signal
    again. Its default action would end the process before the atexit handlers run, leaving
    the embedded PostgreSQL running and the last log lines unwritten; an exit runs them."""
    sys.exit(0)


def _fresh_metrics_dir() -> str:
    """Where the workers' metrics meet; it must start empty and is removed at exit."""
    path = tempfile.mkdtemp(prefix="configsvc-metrics-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


if __name__ == "__main__":
    sys.exit(main())
