"""``python -m watcher``: configure from the environment, run until SIGTERM/SIGINT."""

from __future__ import annotations

import os
import signal
import sys
import threading

from kubernetes import client, config

from watcher.app import Watcher
from watcher.config import ConfigError, load_config
from watcher.logs import logger, setup_logging


def main() -> int:
    try:
        settings = load_config()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level)
    if os.environ.get("KUBECONFIG"):
        config.load_kube_config(config_file=os.environ["KUBECONFIG"])
    else:
        config.load_incluster_config()
    watcher = Watcher(settings, client.ApiClient())
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    watcher.start()
    done.wait()
    watcher.stop()
    logger.info("exit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
