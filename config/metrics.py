"""Prometheus metrics, and their exposition.

With several worker processes (WEB_CONCURRENCY > 1), prometheus-client keeps each process's
values in files under PROMETHEUS_MULTIPROC_DIR and GET /metrics sums them; main.py sets
that directory up before the workers start. Gauges say how processes combine (livesum).
"""

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

# A `_created` series per counter and histogram (the time it was first written) doubles what
# a scrape carries, and Prometheus' text format has no use for it.
disable_created_metrics()

REQUEST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

REQUESTS = Counter("configsvc_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
REQUEST_SECONDS = Histogram(
    "configsvc_http_request_duration_seconds",
    "Time to answer an HTTP request (a stream: until it closed)",
    ["method", "route", "status"],
    buckets=REQUEST_BUCKETS,
)
DB_CONNECTIONS = Gauge(
    "configsvc_db_pool_connections", "Pooled database connections", ["state"], multiprocess_mode="livesum"
)
DB_WAITING = Gauge(
    "configsvc_db_pool_waiting", "Requests queued for a database connection", multiprocess_mode="livesum"
)
DB_UNIT_SECONDS = Histogram(
    "configsvc_db_unit_duration_seconds",
    "Time a unit of work (one or more queries) held a database connection",
    ["kind"],
    buckets=REQUEST_BUCKETS,
)
CACHE_HITS = Counter("configsvc_cache_hits_total", "Reads answered from the representation cache")
CACHE_MISSES = Counter("configsvc_cache_misses_total", "Reads that went to the database")
CACHE_EVICTIONS = Counter(
    "configsvc_cache_evictions_total", "Representations dropped from the cache", ["reason"]
)
WATCHERS = Gauge(
    "configsvc_open_watchers", "Event streams and long polls open", ["kind"], multiprocess_mode="livesum"
)
NOTIFICATION_LAG_SECONDS = Histogram(
    "configsvc_change_notification_lag_seconds",
    "From a change's commit to its fan-out in this process",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LISTENER_RECONNECTS = Counter(
    "configsvc_listener_reconnects_total", "Times the LISTEN connection was lost and re-established"
)

# Every series the code writes exists from the start, at zero: until then a dashboard (and
# rate()) sees nothing at all. With several processes, each writes its zeros to its own
# files, which add nothing to the sums.
for _metric, _values in (
    (CACHE_EVICTIONS, ("capacity", "changed", "suspended")),
    (WATCHERS, ("stream", "long_poll")),
    (DB_CONNECTIONS, ("in_use", "idle", "max")),
    (DB_UNIT_SECONDS, ("read", "write")),
):
    for _value in _values:
        _metric.labels(_value)


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus text format, and its content type."""
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def process_exited(pid: int) -> None:
    """Forget a finished worker's gauges (its counters stay in the sums)."""
    if os.environ.get(MULTIPROCESS_DIR):
        multiprocess.mark_process_dead(pid)
