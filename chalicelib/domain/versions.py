"""Semantic versions: parsing, normalisation and the ordering that decides "latest"."""

from __future__ import annotations

from chalicelib.domain.limits import MAX_VERSION_COMPONENT as MAX_COMPONENT
from chalicelib.domain.limits import MAX_VERSION_LENGTH, PRERELEASE_DIGITS

# The bounds are limits.SEMVER_PATTERN's too (the contracts check it first; this module says what is wrong):
# stored beside each version so SQL can order by precedence (sort_key_parts), MAJOR, MINOR and PATCH go in
# integer columns and numeric pre-release identifiers are zero-padded to PRERELEASE_DIGITS characters.


def normalize_version(raw: object) -> str:
    """Returns the SemVer 2.0.0 form of ``raw`` (a leading ``v`` is dropped) or raises ValueError."""
    if not isinstance(raw, str):
        raise ValueError("must be a string")
    text = raw.strip()
    if len(text) > MAX_VERSION_LENGTH:
        raise ValueError(f"must be at most {MAX_VERSION_LENGTH} characters")
    if text[:1] in ("v", "V"):
        text = text[1:]
    # semver (with the argparse its CLI pulls in) is imported on first use: searches and most
    # reads never parse a version, and every millisecond of import is paid on each cold start.
    import semver

    try:
        parsed = semver.Version.parse(text)
    except ValueError:
        raise ValueError(f"'{raw}' is not a semantic version (MAJOR.MINOR.PATCH[-pre][+build])") from None
    if max(parsed.major, parsed.minor, parsed.patch) > MAX_COMPONENT:
        raise ValueError(f"MAJOR, MINOR and PATCH must each be at most {MAX_COMPONENT}")
    if any(i.isdigit() and len(i) > PRERELEASE_DIGITS for i in (parsed.prerelease or "").split(".")):
        raise ValueError(f"numeric pre-release identifiers must have at most {PRERELEASE_DIGITS} digits")
    return str(parsed)


def sort_key_parts(version: str) -> tuple[int, int, int, str, str]:
    """The columns stored beside a version so that SQL can order by SemVer precedence.

    ``prerelease_key`` encodes the SemVer pre-release rules as a byte-wise sortable string:
    a release sorts after every pre-release (``~`` > any identifier character), numeric
    identifiers compare numerically (zero-padded) and below alphanumeric ones.
    """
    import semver

    parsed = semver.Version.parse(version)
    if parsed.prerelease is None:
        pre_key = "~"
    else:
        parts = []
        for ident in parsed.prerelease.split("."):
            if ident.isdigit():
                parts.append("0" + ident.zfill(PRERELEASE_DIGITS))
            else:
                parts.append("1" + ident)
        # "." (0x2E) sorts below "0"/"1", so a shorter identifier list ranks first, as SemVer says.
        pre_key = ".".join(parts)
    return parsed.major, parsed.minor, parsed.patch, pre_key, parsed.build or ""
