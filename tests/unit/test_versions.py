"""SemVer normalisation and precedence, including the SQL sort key that decides "latest"."""

from __future__ import annotations

import itertools

import pytest
import semver

from chalicelib.domain.versions import normalize_version, sort_key_parts

# Ascending precedence, from the SemVer 2.0.0 specification's own examples plus numeric edge cases.
ORDERED = [
    "0.9.9",
    "1.0.0-0",
    "1.0.0-1",
    "1.0.0-2",
    "1.0.0-10",
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.2.0",
    "1.10.0",
    "2.0.0",
    "10.0.0",
]


@pytest.mark.parametrize(("low", "high"), list(itertools.combinations(ORDERED, 2)))
def test_sort_key_matches_semver_precedence(low: str, high: str) -> None:
    assert semver.Version.parse(low) < semver.Version.parse(high)  # the reference: the semver library
    assert sort_key_parts(low) < sort_key_parts(high)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("1.0.0", "1.0.0"),
        ("v1.2.3", "1.2.3"),
        ("V2.0.0-rc.1", "2.0.0-rc.1"),
        ("1.0.0+build.5", "1.0.0+build.5"),
        (" 1.0.0 ", "1.0.0"),
    ],
)
def test_normalize_accepts_and_strips_leading_v(raw: str, normalized: str) -> None:
    assert normalize_version(raw) == normalized


@pytest.mark.parametrize("raw", ["1.0", "01.0.0", "1.0.0-", "latest", "", "vv1.0.0", "1.0.0-01", None, 1, "1" * 200])
def test_normalize_rejects_non_semver(raw: object) -> None:
    with pytest.raises(ValueError):
        normalize_version(raw)


def test_build_metadata_does_not_change_precedence_but_stays_distinct() -> None:
    assert sort_key_parts("1.0.0+a")[:4] == sort_key_parts("1.0.0+b")[:4]
    assert sort_key_parts("1.0.0+a") != sort_key_parts("1.0.0+b")


@pytest.mark.parametrize("raw", ["2147483648.0.0", "1.2147483648.0", "1.0.2147483648", "1.0.0-" + "9" * 21])
def test_normalize_rejects_what_the_sort_key_columns_cannot_hold(raw: str) -> None:
    """MAJOR/MINOR/PATCH are integer columns (a bigger one was a 500); numeric pre-release
    identifiers are padded to 20 digits, so longer ones would sort wrongly."""
    with pytest.raises(ValueError, match="at most"):
        normalize_version(raw)


def test_the_largest_storable_components_still_order_by_precedence() -> None:
    assert normalize_version("2147483647.2147483647.2147483647") == "2147483647.2147483647.2147483647"
    low, high = "1.0.0-" + "9" * 19, "1.0.0-" + "1" + "0" * 19
    assert normalize_version(high) == high
    assert sort_key_parts(low) < sort_key_parts(high)
