from fastapi import APIRouter

from api.v1 import applications, audit, configurations, events

router = APIRouter(prefix="/api/v1")
router.include_router(applications.router)
router.include_router(configurations.router)
router.include_router(audit.router)
router.include_router(events.router)
