"""Liveness and readiness endpoints for the kubelet's probes (stdlib http.server on a thread)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from watcher.informer import Informer


class HealthServer:
    """``/healthz``: the informer loop is alive and not stuck. ``/readyz``: listed, connected, not stopping."""

    def __init__(self, informer: Informer, thread: threading.Thread, port: int, stuck_after: float) -> None:
        self.informer = informer
        self.thread = thread
        self.stuck_after = stuck_after
        health = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                checks = {"/healthz": health.live, "/readyz": health.ready}
                if self.path not in checks:
                    self._reply(404, {"status": "not found"})
                    return
                ok, detail = checks[self.path]()
                self._reply(200 if ok else 503, {"status": "ok" if ok else "unavailable", "detail": detail})

            def _reply(self, code: int, body: dict[str, str]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:  # probes every few seconds: no log line
                return

        self.server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
        self.port = self.server.server_address[1]

    def live(self) -> tuple[bool, str]:
        if not self.thread.is_alive() and not self.informer.stop.is_set():
            return False, "watch loop has died"
        if time.monotonic() - self.informer.heartbeat > self.stuck_after:
            return False, "watch loop made no progress"
        return True, "alive"

    def ready(self) -> tuple[bool, str]:
        if self.informer.stop.is_set():
            return False, "shutting down"
        if not self.informer.synced.is_set():
            return False, "initial list not done"
        if not self.informer.connected:
            return False, "the API server keeps failing"
        return True, "watching"

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, name="health", daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
