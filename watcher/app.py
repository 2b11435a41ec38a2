"""Assembly of the watcher: informer thread, resync thread, worker threads, health server."""

from __future__ import annotations

import threading

from kubernetes import client

from watcher.catalog import CatalogClient, make_auth
from watcher.config import WatcherConfig
from watcher.health import HealthServer
from watcher.informer import Cache, Informer
from watcher.logs import fields, logger
from watcher.reconciler import Reconciler, run_worker
from watcher.workqueue import WorkQueue

WORKERS = 4


class Watcher:
    def __init__(self, config: WatcherConfig, api_client: client.ApiClient, watch_timeout: int = 300,
                 follow_seconds: float = 120.0) -> None:
        self.config = config
        self.stopping = threading.Event()
        api = client.CustomObjectsApi(api_client)
        self.cache = Cache()
        self.queue = WorkQueue()
        self.informer = Informer(api, config.namespace, self.cache, self.queue, self.stopping, watch_timeout)
        catalog = CatalogClient(config.catalog_url, make_auth(config), stop=self.stopping)
        self.reconciler = Reconciler(catalog, api, self.cache, self.stopping, follow_seconds=follow_seconds)
        self.threads = [threading.Thread(target=self.informer.run, name="informer", daemon=True),
                        threading.Thread(target=self._resync_loop, name="resync", daemon=True)]
        self.threads += [threading.Thread(target=run_worker, args=(self.queue, self.reconciler, self.stopping),
                                          name=f"worker-{n}", daemon=True) for n in range(WORKERS)]
        # Stuck = no loop iteration for three of the longest watch requests.
        stuck_after = watch_timeout * 6 + 90
        self.health = HealthServer(self.informer, self.threads[0], config.health_port, stuck_after)

    def start(self) -> None:
        logger.info("watcher started", extra=fields(namespace=self.config.namespace or "*",
                                                    catalog_url=self.config.catalog_url, health_port=self.health.port))
        self.health.start()
        for thread in self.threads:
            thread.start()

    def stop(self, grace_seconds: float = 20.0) -> None:
        """Stops watching, lets workers finish their current item (bounded), then stops the health server."""
        logger.info("stopping")
        self.informer.shutdown()
        self.queue.close()
        for thread in self.threads:
            thread.join(timeout=grace_seconds / len(self.threads))
        self.health.stop()
        logger.info("stopped")

    def _resync_loop(self) -> None:
        while not self.stopping.wait(self.config.resync_seconds):
            if self.informer.synced.is_set():
                count = self.informer.resync()
                logger.info("resync", extra=fields(lagging=count))
