"""GET /ui: the admin page, static files from ui/ (Web Components and JavaScript modules, no
build step), served with a Content-Security-Policy that allows only this origin's scripts,
styles and API, and no inline script at all. The page talks only to /api/v1, with the key the
operator pastes (kept in sessionStorage, never in a cookie)."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

UI_DIR = Path(__file__).resolve().parent.parent / "ui"
UI_PATH = "/ui"
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidated each load (ETag): a new version of the page is seen at once.
    "Cache-Control": "no-cache",
}


class UiFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(HEADERS)
        return response


def install_ui(app: FastAPI) -> None:
    app.mount(UI_PATH, UiFiles(directory=UI_DIR, html=True), name="ui")
