"""Points in time as text: the one form the catalog hands out (RFC 3339 in UTC with milliseconds and ``Z``, in API
responses and notification payloads alike) and the one reading of the RFC 3339 times it is given (runners' reports,
Alertmanager's alerts)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# RFC 3339 section 5.6: seconds, an optional fraction and a zone (Z or an offset); ASCII digits only.
_RFC3339 = re.compile(r"(?P<date>\d{4}-\d{2}-\d{2})[Tt](?P<time>\d{2}:\d{2}:\d{2})(?P<fraction>\.\d{1,12})?"
                      r"(?P<zone>[Zz]|[+-]\d{2}:\d{2})", re.ASCII)


def rfc3339_match(text: str, max_fraction_digits: int = 12) -> re.Match[str] | None:
    """The parts of an RFC 3339 date-time with at most ``max_fraction_digits`` fractional digits, else None (the
    form only: whether the date exists is parse_rfc3339's to say)."""
    match = _RFC3339.fullmatch(text)
    return match if match is not None and len(match["fraction"] or "") <= max_fraction_digits + 1 else None


def parse_rfc3339(text: str, max_fraction_digits: int = 12) -> datetime:
    """An RFC 3339 date-time, in the zone it names; ValueError otherwise. Fractions beyond microseconds are cut
    (Kubernetes writes whole seconds, Go may write nanoseconds)."""
    match = rfc3339_match(text, max_fraction_digits)
    if match is None:
        raise ValueError("not an RFC 3339 date-time")
    zone = "+00:00" if match["zone"] in "Zz" else match["zone"]
    fraction = (match["fraction"] or "")[:7]
    return datetime.fromisoformat(f"{match['date']}T{match['time']}{fraction}{zone}")


def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
