"""Alert actions shared by the API and the dashboard."""

import uuid
from datetime import UTC, datetime

from services.api.crud import get_or_404
from services.api.problems import Conflict
from shared.alerts.models import Alert, AlertStatus


async def acknowledge(session, *, alert_id: uuid.UUID, key_id: uuid.UUID) -> Alert:
    """Someone is on it: re-notifications stop; it still resolves by itself when the KPI recovers. A resolved
    alert cannot be acknowledged (409); acknowledging twice is harmless."""
    alert = await get_or_404(session, Alert, alert_id)
    if alert.status == AlertStatus.resolved:
        raise Conflict(f"Alert {alert.id} is already resolved.")
    if alert.status == AlertStatus.open:
        alert.status = AlertStatus.acknowledged
        alert.acknowledged_at, alert.acknowledged_by_key_id = datetime.now(UTC), key_id
        await session.flush()
    return alert
