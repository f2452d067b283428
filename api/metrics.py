"""GET /metrics: Prometheus text, summed over the worker processes."""

from fastapi import APIRouter, Response

from config.metrics import exposition

router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics() -> Response:
    body, content_type = exposition()
    return Response(body, media_type=content_type)
