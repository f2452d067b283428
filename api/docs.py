"""GET /docs (Swagger UI) and /redoc (ReDoc), with every asset served from here.

FastAPI's own pages load their scripts from a CDN, and ReDoc its fonts from Google, so on
a machine without internet access they stay blank. The assets are vendored under
api/static/ (swagger-ui-dist and redoc from npm, with their licences; see
api/static/README.md) and served at /static.
"""

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PATH = "/static"

router = APIRouter(include_in_schema=False)


def _url(request: Request, path: str) -> str:
    """A path on this service, behind whatever prefix a proxy serves it under."""
    return request.scope.get("root_path", "") + path


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=_url(request, request.app.openapi_url),
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=_url(request, f"{STATIC_PATH}/swagger-ui/swagger-ui-bundle.js"),
        swagger_css_url=_url(request, f"{STATIC_PATH}/swagger-ui/swagger-ui.css"),
        swagger_favicon_url=_url(request, f"{STATIC_PATH}/swagger-ui/favicon-32x32.png"),
        oauth2_redirect_url=None,  # the API has no OAuth
        # Its default sends the document to validator.swagger.io for a badge.
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(
        openapi_url=_url(request, request.app.openapi_url),
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=_url(request, f"{STATIC_PATH}/redoc/redoc.standalone.js"),
        redoc_favicon_url=_url(request, f"{STATIC_PATH}/swagger-ui/favicon-32x32.png"),
        with_google_fonts=False,
    )


def install_docs(app: FastAPI) -> None:
    """For an app made with docs_url=None and redoc_url=None."""
    app.include_router(router)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="static")
