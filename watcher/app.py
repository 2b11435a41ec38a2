"""The process: informer, resync, reconciliation and worker threads, the probes' HTTP server, start and
SIGTERM."""

import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from logging import INFO

from kubernetes import client
from kubernetes import config as kube_config

from watcher.catalog import CatalogClient
from watcher.config import ConfigError, WatcherConfig, load_config, log, setup_logging
from watcher.informer import Cache, Informer, WorkQueue
from watcher.livesync import LiveSync
from watcher.reconciler import Reconciler

WORKERS = 4


class HealthServer:
    """``/healthz``: the informer loop is alive and not stuck. ``/readyz``: listed, connected, not stopping."""

    def __init__(self, informer: Informer, thread: threading.Thread, port: int, stuck_after: float) -> None:
        self.informer = informer
        self.thread = thread
        self.stuck_after = stuck_after
        checks = {"/healthz": self.live, "/readyz": self.ready}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                ok, detail = checks[self.path]() if self.path in checks else (False, "not found")
                self.send_response(200 if ok else 503 if self.path in checks else 404)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(detail.encode())

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


class Watcher:
    def __init__(self, config: WatcherConfig, api_client: client.ApiClient, watch_timeout: int = 300) -> None:
        self.config = config
        self.stopping = threading.Event()
        api = client.CustomObjectsApi(api_client)
        self.cache, self.queue = Cache(), WorkQueue()
        catalog = CatalogClient(config, self.stopping)
        self.live_sync = LiveSync(catalog, self.cache, self.queue, config.namespace, self.stopping)
        self.informer = Informer(api, config.namespace, self.cache, self.queue, self.stopping, watch_timeout,
                                 on_listed=self.live_sync.request)
        self.reconciler = Reconciler(catalog, api, self.cache, self.stopping)
        self.threads = [threading.Thread(target=self.informer.run, name="informer", daemon=True),
                        threading.Thread(target=self._resync_loop, name="resync", daemon=True),
                        threading.Thread(target=self.live_sync.run, name="reconcile", daemon=True)]
        self.threads += [threading.Thread(target=self.reconciler.work, args=(self.queue,), name=f"worker-{n}",
                                          daemon=True) for n in range(WORKERS)]
        # Stuck = no loop iteration for three of the longest watch requests.
        self.health = HealthServer(self.informer, self.threads[0], config.health_port, watch_timeout * 6 + 90)

    def start(self) -> None:
        log(INFO, "watcher started", namespace=self.config.namespace or "*", catalog_url=self.config.catalog_url,
            health_port=self.health.port)
        self.health.start()
        for thread in self.threads:
            thread.start()

    def stop(self, grace_seconds: float = 20.0) -> None:
        # Workers finish their current item (bounded by the grace period): SIGTERM loses no delivery.
        log(INFO, "stopping")
        self.informer.shutdown()
        for thread in self.threads:
            thread.join(timeout=grace_seconds / len(self.threads))
        self.health.stop()
        log(INFO, "stopped")

    def _resync_loop(self) -> None:
        while not self.stopping.wait(self.config.resync_seconds):
            if self.informer.synced.is_set():
                log(INFO, "resync", lagging=self.informer.resync())
                self.live_sync.request()


def load_cluster_credentials(env: Mapping[str, str]) -> None:
    """A developer's cluster from ``KUBECONFIG``, else the pod's ServiceAccount; ConfigError (one line saying
    what is missing and how to set it) when neither can be used."""
    if path := env.get("KUBECONFIG", "").strip():
        try:
            kube_config.load_kube_config(config_file=path)
        except Exception as exc:  # the client lets its YAML and type errors through for a malformed file
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise ConfigError(f"KUBECONFIG={path} is not a usable kubeconfig file ({detail})") from None
        return
    if not (env.get("KUBERNETES_SERVICE_HOST") and env.get("KUBERNETES_SERVICE_PORT")):
        raise ConfigError("no Kubernetes cluster to watch: set KUBECONFIG to a kubeconfig file, or run the watcher "
                          "in a pod, where KUBERNETES_SERVICE_HOST/PORT and a ServiceAccount token are provided")
    try:
        kube_config.load_incluster_config()
    except kube_config.ConfigException as exc:
        detail = f"in-cluster credentials cannot be used ({exc}); is the ServiceAccount token mounted?"
        raise ConfigError(detail) from None


def main() -> int:
    """``python -m watcher``: configure from the environment, run until SIGTERM/SIGINT."""
    try:
        settings = load_config()
        load_cluster_credentials(os.environ)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level)
    watcher = Watcher(settings, client.ApiClient())
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    watcher.start()
    done.wait()
    watcher.stop()
    return 0
