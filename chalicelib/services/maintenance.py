"""The periodic maintenance of the catalog, one round: what ``make run``'s maintenance thread does every
REGISTRATION_SWEEP_SECONDS and the scheduled ``maintenance`` function does every minute in AWS.

In order: registrations whose worker died (or that never started) are queued again, executions past
their approval window expire and runners' leases that ended with no report are counted (claimable again,
or failed as runner-lost; their notifications recorded with them), successes whose effectiveness window
has ended get their verdict, then the notification outbox is delivered (those included) and events past
their keeping time are deleted.
"""

from __future__ import annotations

from typing import Any

from chalicelib.services.effectiveness import EffectivenessService
from chalicelib.services.executions import ExecutionService
from chalicelib.services.notifications import NotificationDelivery
from chalicelib.services.registration import RegistrationService


class Maintenance:
    def __init__(
        self, registrations: RegistrationService, executions: ExecutionService, notifications: NotificationDelivery,
        effectiveness: EffectivenessService,
    ) -> None:
        self._registrations = registrations
        self._executions = executions
        self._notifications = notifications
        self._effectiveness = effectiveness

    def run(self) -> dict[str, Any]:
        """One round; its counts (the scheduled function returns them)."""
        sweep = self._registrations.sweep()
        expired = self._executions.expire_overdue()
        lapsed = self._executions.lapse_leases()
        judged = self._effectiveness.judge_due()
        notified = self._notifications.deliver_due()
        self._notifications.purge()
        return {"requeued": len(sweep.requeued), "abandoned": len(sweep.abandoned), "expired": expired,
                "lapsed": lapsed, "judged": judged, "notifications": notified.as_dict()}
