"""The process: the resources' informer, resync, reconciliation and worker threads, the runner's threads,
the Events thread, the probes' HTTP server, start and SIGTERM."""

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from logging import INFO

from kubernetes import client
from kubernetes import config as kube_config

from watcher.catalog import CatalogClient
from watcher.config import ConfigError, WatcherConfig, load_config, log, setup_logging
from watcher.events import EventRecorder
from watcher.informer import Cache, Informer, WorkQueue, custom_objects
from watcher.livesync import LiveSync
from watcher.reconciler import Reconciler
from watcher.resources import GROUP, PLURAL, VERSION, ResourceEvents
from watcher.runner import Runner

WORKERS = 4


@dataclass(frozen=True)
class Loop:
    """A thread the process cannot do without, as ``/healthz`` sees it: alive, and making progress."""
    name: str
    thread: threading.Thread
    heartbeat: Callable[[], float]  # monotonic time of its latest iteration
    stuck_after: float


class HealthServer:
    """``/healthz``: every loop is alive and not stuck (the answer names the one that is not).
    ``/readyz``: every informer listed and connected, not stopping."""

    def __init__(self, informers: list[Informer], loops: list[Loop], port: int) -> None:
        self.informers = informers
        self.loops = loops
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
        if self.stopping:
            return True, "stopping"
        for loop in self.loops:
            if not loop.thread.is_alive():
                return False, f"{loop.name} has died"
            if time.monotonic() - loop.heartbeat() > loop.stuck_after:
                return False, f"{loop.name} made no progress"
        return True, "alive: " + ", ".join(loop.name for loop in self.loops)

    def ready(self) -> tuple[bool, str]:
        if self.stopping:
            return False, "shutting down"
        for informer in self.informers:
            if not informer.synced.is_set():
                return False, f"initial list of {informer.name} not done"
            if not informer.connected:
                return False, f"the API server keeps failing ({informer.name})"
        return True, "watching"

    @property
    def stopping(self) -> bool:
        return any(informer.stop.is_set() for informer in self.informers)

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, name="health",
                         daemon=True).start()

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
        self.events = EventRecorder(api_client, self.stopping, config.runner_id)
        self.live_sync = LiveSync(catalog, self.cache, self.queue, config.namespace, self.stopping)
        self.resources = ResourceEvents(self.cache, self.queue, on_listed=self.live_sync.request)
        self.informer = Informer(PLURAL, custom_objects(api, GROUP, VERSION, PLURAL, config.namespace), self.cache,
                                 self.resources, self.stopping, watch_timeout)
        self.reconciler = Reconciler(catalog, api, self.cache, self.events, self.stopping)
        # Workers finish their current item on SIGTERM; the other threads only wait for something to happen.
        self.workers = [threading.Thread(target=self.reconciler.work, args=(self.queue,), name=f"worker-{n}",
                                         daemon=True) for n in range(WORKERS)]
        self.threads = [threading.Thread(target=self.informer.run, name="informer", daemon=True),
                        threading.Thread(target=self._resync_loop, name="resync", daemon=True),
                        threading.Thread(target=self.live_sync.run, name="reconcile", daemon=True),
                        threading.Thread(target=self.events.run, name="events", daemon=True)]
        # Stuck = no loop iteration for three of the longest watch requests.
        stuck_after = watch_timeout * 6 + 90
        loops = [Loop("resource watch loop", self.threads[0], lambda: self.informer.heartbeat, stuck_after)]
        informers = [self.informer]
        self.runner: Runner | None = None
        if config.runner_enabled:
            self.runner = runner = Runner(config, catalog, api_client, self.events, self.stopping, watch_timeout)
            runner_threads = [threading.Thread(target=runner.informer.run, name="runner-informer", daemon=True),
                              threading.Thread(target=runner.claim_loop, name="runner-claim", daemon=True)]
            self.threads += runner_threads
            # One worker per execution it may hold: a slow report never delays another execution.
            self.workers += [threading.Thread(target=runner.work, name=f"runner-worker-{n}", daemon=True)
                             for n in range(runner.concurrency)]
            # A claim waits claim_wait_seconds, then each of its attempts may take that plus a request timeout; an
            # empty one is followed by claim_interval_seconds of pause.
            claim_stuck_after = (CatalogClient.attempts * (runner.claim_wait_seconds + CatalogClient.timeout * 2)
                                 + runner.claim_interval_seconds + 90)
            loops += [Loop("runner watch loop", runner_threads[0], lambda: runner.informer.heartbeat, stuck_after),
                      Loop("runner claim loop", runner_threads[1], lambda: runner.heartbeat, claim_stuck_after)]
            informers.append(runner.informer)
        self.health = HealthServer(informers, loops, config.health_port)

    def start(self) -> None:
        log(INFO, "watcher started", namespace=self.config.namespace or "*", catalog_url=self.config.catalog_url,
            health_port=self.health.port, runner=self.config.runner_enabled,
            run_namespace=self.config.run_namespace if self.runner else None,
            runner_id=self.config.runner_id if self.runner else None,
            runner_concurrency=self.config.runner_concurrency if self.runner else None,
            claim_wait_seconds=self.config.claim_wait_seconds if self.runner else None,
            claim_interval_seconds=self.config.claim_interval_seconds if self.runner else None)
        self.health.start()
        for thread in self.threads + self.workers:
            thread.start()

    def stop(self, grace_seconds: float = 20.0) -> None:
        # Workers finish their current item (bounded by the grace period): SIGTERM loses no delivery. A claim
        # still waiting is not waited for: what it may still get comes back to this runner id, or after its lease.
        log(INFO, "stopping")
        self.informer.shutdown()
        self.queue.close()
        if self.runner is not None:
            self.runner.informer.shutdown()
            self.runner.queue.close()
        deadline = time.monotonic() + grace_seconds
        for thread in self.workers:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.health.stop()
        log(INFO, "stopped")

    def _resync_loop(self) -> None:
        while not self.stopping.wait(self.config.resync_seconds):
            if self.informer.synced.is_set():
                log(INFO, "resync", lagging=self.resources.resync())
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
