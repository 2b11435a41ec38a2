"""Routes of the alert intake: Alertmanager's webhook -> AlertService -> a summary of what was recorded."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.container import services
from chalicelib.domain import contracts
from chalicelib.domain.alerts import parse_notification
from chalicelib.domain.limits import MAX_ALERT_NOTIFICATION_BYTES, MAX_ALERTS_PER_NOTIFICATION
from chalicelib.http.endpoint import Call, endpoint
from chalicelib.http.views import alert_intake_view

alerts = Blueprint(__name__)


@endpoint(alerts, "/api/v1/alerts/alertmanager", methods=("POST",), scope="alerts:write",
          body=contracts.ALERTMANAGER_NOTIFICATION,
          summary="Record the alerts of an Alertmanager webhook notification (version 4)",
          description="Alertmanager's webhook_configs receiver (docs/operations.md). Each alert's state is recorded "
                      "by fingerprint with its episodes (fired, resolved, fired again). The same notification again, "
                      "or a late one older than what is recorded, changes nothing. At most "
                      f"{MAX_ALERTS_PER_NOTIFICATION} alerts and {MAX_ALERT_NOTIFICATION_BYTES // 1024 // 1024} MiB "
                      "per notification; any problem is a 400 (413 when too large) and nothing is recorded.",
          responses={200: ("How many alerts changed the record and how many did not", "AlertIntake")})
def receive_alertmanager(call: Call) -> object:
    notification = parse_notification(call.json(MAX_ALERT_NOTIFICATION_BYTES))
    return alert_intake_view(services().alerts.record(notification))
