"""A customer's web site for the browser tests: a static page on its own local port (so its origin differs
from the API's), serving the analytics.js npm bundle from node_modules (nothing from a CDN)."""

from __future__ import annotations

import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# @segment/analytics-next's browser build (package.json devDependency); its lazily loaded chunks are
# fetched from <_cdn>/analytics-next/bundles/, which this site serves too.
ANALYTICS_UMD = ROOT / "node_modules" / "@segment" / "analytics-next" / "dist" / "umd"
PAGE = b"""<!doctype html><html lang=en><meta charset=utf-8><title>Shop</title>
<script>window.analytics = {_cdn: location.origin};</script>
<script src="/analytics-next/bundles/index.js"></script>
<body><h1>Shop</h1></body></html>"""


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        if self.path in {"/", "/index.html"}:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)
            return
        page = getattr(self.server, "pages", {}).get(self.path.split("?", 1)[0])
        if page is not None:  # a page a test put up (Site.put)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        if self.path.startswith("/analytics-next/bundles/"):
            self.path = "/" + self.path.removeprefix("/analytics-next/bundles/")
            super().do_GET()
            return
        self.send_error(404)


class Site:
    def __init__(self, host: str = "127.0.0.1") -> None:
        handler = partial(_Handler, directory=str(ANALYTICS_UMD))
        self.server = ThreadingHTTPServer((host, 0), handler)
        self.server.daemon_threads = True
        self.origin = f"http://{host}:{self.server.server_address[1]}"
        self.server.pages = {}  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self.server.serve_forever, name="site", daemon=True)

    def start(self) -> Site:
        self._thread.start()
        return self

    def put(self, path: str, html: str) -> str:
        """Serve ``html`` at ``path`` (e.g. a page with a pasted embed code); answers the page's URL."""
        self.server.pages[path] = html.encode()  # type: ignore[attr-defined]
        return self.origin + path

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
