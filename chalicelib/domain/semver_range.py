"""SemVer ranges with npm's semantics (the ``semver`` package npm itself uses, non-loose mode).

A composite workflow names each step's workflow version as a range, exactly as a ``package.json``
names a dependency: ``1.2.3`` / ``=1.2.3`` (exact), ``^1.2.3``, ``~1.2.3`` / ``~>1.2.3``, x-ranges
(``1.x``, ``1.2.*``, ``1``, ``*``), comparators (``>=1.2.0 <2.0.0``), hyphen ranges
(``1.2.3 - 2.3``) and unions (``^1.0.0 || ^2.0.0``). Build metadata is accepted and ignored.

The rules npm applies, which this module reproduces (tests/unit/test_semver_range.py checks it
against a table of npm's documented desugarings and against answers recorded from npm's own
``semver`` package, tests/unit/data/npm-semver-cases.json, made by devtools/npm_semver_cases.py):
- every range desugars into sets of primitive comparators (``^1.2.3`` is ``>=1.2.3 <2.0.0-0``);
  a version satisfies a range when it satisfies every comparator of one set;
- a pre-release version (``1.2.4-beta``) satisfies a set only if one of the set's comparators has
  a pre-release on the same [major, minor, patch] tuple: ``^1.2.3-alpha`` admits ``1.2.3-beta``
  but not ``1.2.4-beta``, and ``*`` admits none;
- a number after a wildcard (``1.x.3``, ``x.1``) is not a range, except after ``~``, ``^`` or in a
  hyphen range, where npm ignores what follows the wildcard;
- ``>=0.0.0`` means "any", and a union with an "any" set is just "any" (so ``* || ^1.0.0-beta``
  admits no pre-release).

Written here rather than taken from PyPI: the one port of npm's module (node-semver 0.9.1) accepts
ranges npm rejects (``x.3``, ``>=x.1``) and is untyped; this is one small, typed module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib.domain.limits import MAX_VERSION_RANGE as MAX_RANGE_LENGTH

_NUMBER = r"0|[1-9][0-9]*"
_X = r"[xX*]"
_PART = rf"(?:{_NUMBER}|{_X})"
_IDENT = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD = r"\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
# A partial version: MAJOR[.MINOR[.PATCH[-PRE]]] where any number may be a wildcard; a leading v.
_PARTIAL = rf"v?({_PART})(?:\.({_PART})(?:\.({_PART})(?:-({_IDENT}(?:\.{_IDENT})*))?)?)?"
_OPERATOR = r"<=|>=|<|>|=|~>|~|\^"
_TOKEN = re.compile(rf"({_OPERATOR})?{_PARTIAL}")
_HYPHEN = re.compile(rf"({_PARTIAL}) - ({_PARTIAL})")
_BUILDS = re.compile(_BUILD)
_SPACES = re.compile(r"\s+")
# npm joins an operator to the version after it: "> = 1.2" is ">=1.2", "~ 1.2" and "~> 1.2" are "~1.2".
_OPERATOR_SPACE = re.compile(r"(<=|>=|<|>|=|~>|~|\^) ")


@dataclass(frozen=True)
class Version:
    """A version as ranges compare it: precedence only (build metadata never counts)."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[int | str, ...] = ()

    @property
    def key(self) -> tuple[int, int, int, tuple[tuple[int, int | str], ...]]:
        """SemVer precedence: a release ranks above its pre-releases; numeric identifiers rank below
        alphanumeric ones and compare as numbers; a shorter identifier list ranks first."""
        if not self.prerelease:
            return self.major, self.minor, self.patch, ((1, 0),)
        ids = tuple((0, i) if isinstance(i, int) else (1, i) for i in self.prerelease)
        return self.major, self.minor, self.patch, ((0, 0), *ids)

    @property
    def triple(self) -> tuple[int, int, int]:
        return self.major, self.minor, self.patch

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        return text + ("-" + ".".join(str(i) for i in self.prerelease) if self.prerelease else "")


@dataclass(frozen=True)
class Comparator:
    operator: str  # one of <, <=, >, >=, =
    version: Version

    def test(self, version: Version) -> bool:
        own, other = self.version.key, version.key
        return {"<": other < own, "<=": other <= own, ">": other > own, ">=": other >= own, "=": other == own}[
            self.operator]

    def __str__(self) -> str:
        return f"{'' if self.operator == '=' else self.operator}{self.version}"


NOTHING = Comparator("<", Version(0, 0, 0, (0,)))  # no version is below 0.0.0-0


@dataclass(frozen=True)
class Range:
    """A parsed range: a union of comparator sets (an empty set means any release)."""

    text: str
    sets: tuple[tuple[Comparator, ...], ...]

    def satisfied_by(self, version: str | Version) -> bool:
        parsed = parse_version(version) if isinstance(version, str) else version
        return any(_set_admits(comparators, parsed) for comparators in self.sets)

    def highest(self, versions: list[str]) -> str | None:
        """The highest of ``versions`` (SemVer precedence) that satisfies the range, or None."""
        admitted = [(parse_version(v).key, v) for v in versions if self.satisfied_by(v)]
        return max(admitted)[1] if admitted else None

    def __str__(self) -> str:
        return " || ".join(" ".join(map(str, s)) or "*" for s in self.sets)


def _set_admits(comparators: tuple[Comparator, ...], version: Version) -> bool:
    if not all(c.test(version) for c in comparators):
        return False
    if version.prerelease:
        return any(c.version.prerelease and c.version.triple == version.triple for c in comparators)
    return True


_VERSION = re.compile(rf"v?({_NUMBER})\.({_NUMBER})\.({_NUMBER})(?:-({_IDENT}(?:\.{_IDENT})*))?(?:{_BUILD})?")


def parse_version(text: str) -> Version:
    """A SemVer 2.0.0 version (a leading v allowed, build metadata ignored); ValueError otherwise."""
    match = _VERSION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"'{text}' is not a semantic version")
    major, minor, patch, pre = match.groups()
    return Version(int(major), int(minor), int(patch), _prerelease(pre))


def parse_range(text: str) -> Range:
    """Parses an npm range; raises ValueError saying which part is not a range."""
    if not isinstance(text, str):
        raise ValueError("must be a string")
    if len(text) > MAX_RANGE_LENGTH:
        raise ValueError(f"must be at most {MAX_RANGE_LENGTH} characters")
    raw = _SPACES.sub(" ", text.strip())
    sets = [_parse_set(part.strip()) for part in raw.split("||")]
    if len(sets) > 1:
        # npm: a union with an "any" set is "any" alone (which admits no pre-release).
        any_set = next((s for s in sets if not s), None)
        if any_set is not None:
            sets = [any_set]
    return Range(text, tuple(sets))


def _parse_set(text: str) -> tuple[Comparator, ...]:
    text = _BUILDS.sub("", text)
    hyphen = _HYPHEN.fullmatch(text)
    if hyphen is not None:
        groups = hyphen.groups()
        comparators = _hyphen(groups[1:5], groups[6:10])
    else:
        comparators = []
        for token in _OPERATOR_SPACE.sub(r"\1", text).split(" ") if text else []:
            comparators.extend(_token(token))
    if NOTHING in comparators:
        return (NOTHING,)
    # npm drops ">=0.0.0" (it is "any"); duplicates change nothing.
    kept = [c for c in comparators if c != Comparator(">=", Version(0, 0, 0))]
    return tuple(dict.fromkeys(kept))


def _token(token: str) -> list[Comparator]:
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise ValueError(f"'{token}' is not a version, a partial version (1.x, 1.2) or a comparator (>=1.2.3)")
    operator, major, minor, patch, pre = match.groups()
    if operator in ("~", "~>"):
        return _tilde(major, minor, patch, pre)
    if operator == "^":
        return _caret(major, minor, patch, pre)
    return _primitive(operator or "", major, minor, patch, pre, token)


def _is_x(part: str | None) -> bool:
    return part is None or part in ("x", "X", "*")


def _v(major: int | str, minor: int | str, patch: int | str, pre: tuple[int | str, ...] = ()) -> Version:
    return Version(int(major), int(minor), int(patch), pre)


LOWEST = (0,)  # the -0 pre-release npm puts on exclusive upper bounds: below every other pre-release


def _primitive(operator: str, major: str, minor: str | None, patch: str | None, pre: str | None,
               token: str) -> list[Comparator]:
    x_major = _is_x(major)
    x_minor = x_major or _is_x(minor)
    x_patch = x_minor or _is_x(patch)
    if (x_major and not _is_x(minor)) or (_is_x(minor) and patch is not None and not _is_x(patch)):
        raise ValueError(f"'{token}': a number cannot follow a wildcard")
    if not x_patch:
        return [Comparator(operator or "=", _v(major, minor or 0, patch or 0, _prerelease(pre)))]
    if x_major:
        return [NOTHING] if operator in ("<", ">") else []
    m, n = int(major), 0 if x_minor else int(minor or 0)
    if operator in ("", "="):
        upper = _v(m + 1, 0, 0, LOWEST) if x_minor else _v(m, n + 1, 0, LOWEST)
        return [Comparator(">=", _v(m, n, 0)), Comparator("<", upper)]
    bumped = _v(m + 1, 0, 0) if x_minor else _v(m, n + 1, 0)
    if operator == ">":
        return [Comparator(">=", bumped)]
    if operator == "<=":
        return [Comparator("<", Version(*bumped.triple, LOWEST))]
    if operator == "<":
        return [Comparator("<", _v(m, n, 0, LOWEST))]
    return [Comparator(">=", _v(m, n, 0))]


def _tilde(major: str, minor: str | None, patch: str | None, pre: str | None) -> list[Comparator]:
    if _is_x(major):
        return []
    m = int(major)
    if _is_x(minor):
        return [Comparator(">=", _v(m, 0, 0)), Comparator("<", _v(m + 1, 0, 0, LOWEST))]
    n = int(minor or 0)
    lower = _v(m, n, 0) if _is_x(patch) else _v(m, n, int(patch or 0), _prerelease(pre))
    return [Comparator(">=", lower), Comparator("<", _v(m, n + 1, 0, LOWEST))]


def _caret(major: str, minor: str | None, patch: str | None, pre: str | None) -> list[Comparator]:
    if _is_x(major):
        return []
    m = int(major)
    if _is_x(minor):
        return [Comparator(">=", _v(m, 0, 0)), Comparator("<", _v(m + 1, 0, 0, LOWEST))]
    n = int(minor or 0)
    if _is_x(patch):
        upper = _v(m, n + 1, 0, LOWEST) if m == 0 else _v(m + 1, 0, 0, LOWEST)
        return [Comparator(">=", _v(m, n, 0)), Comparator("<", upper)]
    p = int(patch or 0)
    # The left-most non-zero number may not change: ^0.2.3 stays below 0.3.0, ^0.0.3 below 0.0.4.
    if m > 0:
        upper = _v(m + 1, 0, 0, LOWEST)
    elif n > 0:
        upper = _v(0, n + 1, 0, LOWEST)
    else:
        upper = _v(0, 0, p + 1, LOWEST)
    return [Comparator(">=", _v(m, n, p, _prerelease(pre))), Comparator("<", upper)]


def _hyphen(low: tuple[str | None, ...], high: tuple[str | None, ...]) -> list[Comparator]:
    comparators: list[Comparator] = []
    major, minor, patch, pre = low
    if not _is_x(major):
        if _is_x(minor):
            comparators.append(Comparator(">=", _v(str(major), 0, 0)))
        elif _is_x(patch):
            comparators.append(Comparator(">=", _v(str(major), str(minor), 0)))
        else:
            comparators.append(Comparator(">=", _v(str(major), str(minor), str(patch), _prerelease(pre))))
    major, minor, patch, pre = high
    if not _is_x(major):
        if _is_x(minor):
            comparators.append(Comparator("<", _v(int(str(major)) + 1, 0, 0, LOWEST)))
        elif _is_x(patch):
            comparators.append(Comparator("<", _v(str(major), int(str(minor)) + 1, 0, LOWEST)))
        else:
            comparators.append(Comparator("<=", _v(str(major), str(minor), str(patch), _prerelease(pre))))
    return comparators


def _prerelease(text: str | None) -> tuple[int | str, ...]:
    if not text:
        return ()
    return tuple(int(i) if i.isdigit() else i for i in text.split("."))
