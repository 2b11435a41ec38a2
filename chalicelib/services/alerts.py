"""Alert intake: records what an Alertmanager notification says about each alert, in one transaction.

The rules (which report changes which episode, and why a late one changes nothing) are in
chalicelib/domain/alerts.py; the SQL in chalicelib/stores/alert_store.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.alerts import Notification, plan_all
from chalicelib.observability import logger
from chalicelib.stores import alert_store as store
from chalicelib.stores.db import Database


@dataclass(frozen=True)
class Intake:
    received: int  # alerts in the notification
    recorded: int  # alerts whose record changed (a new episode, a resolution)
    unchanged: int  # already recorded so, or late (older than what is recorded)


class AlertService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, notification: Notification) -> Intake:
        alerts = notification.alerts
        with self._db.transaction() as tx:
            # The alerts' rows are locked first, so what is read next stays true until the writes commit.
            store.lock_alerts(tx, alerts)
            plan = plan_all(alerts, store.known(tx, alerts))
            store.write_episodes(tx, plan.writes)
        intake = Intake(len(alerts), plan.changed, len(alerts) - plan.changed)
        logger.info("alerts recorded", extra={
            "receiver": notification.receiver, "group_key": notification.group_key,
            "alerts": intake.received, "recorded": intake.recorded, "unchanged": intake.unchanged,
        })
        if notification.truncated_alerts:
            # Alertmanager left these out (max_alerts): the catalog never hears of them in this notification.
            logger.warning("alerts truncated by Alertmanager", extra={
                "receiver": notification.receiver, "group_key": notification.group_key,
                "truncated_alerts": notification.truncated_alerts,
            })
        return intake
