"""Security headers of the dashboard's responses.

Every page gets a strict Content-Security-Policy (only our own scripts, styles and images; no plugin;
no framing), ``X-Frame-Options: DENY``, ``Referrer-Policy``, ``nosniff`` and ``Cache-Control: no-store``
(pages show personal data). A response that sets its own ``Content-Security-Policy`` keeps it: the
inline preview of a document allows being framed by our own pages (``frame-ancestors 'self'``).
The interactive API documentation (``/docs``) loads its assets from a CDN and is left alone.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
PREVIEW_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'"
"""A PDF or an image shown inside our dossier page: framed by us only, nothing else loaded."""
SANDBOXED_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"
"""XML or text shown as it came: a sandbox of its own, so that markup in it can never act as our page."""

SKIPPED_PREFIXES = ("/docs",)


class SecurityHeaders:
    """Adds the headers above to every HTTP response, unless the response set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(SKIPPED_PREFIXES):
            await self.app(scope, receive, send)
            return
        is_static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                framed = "Content-Security-Policy" in headers
                headers.setdefault("Content-Security-Policy", PAGE_CSP)
                headers.setdefault("X-Frame-Options", "SAMEORIGIN" if framed else "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                if not is_static:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
