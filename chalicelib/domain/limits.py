"""Every limit and identifier pattern of the API, defined once.

The request contracts (domain/contracts.py), the domain rules, the OpenAPI document and the MCP
tool schemas all read them from here, so a limit cannot drift between what is documented and what
is enforced.
"""

from __future__ import annotations

# Every pattern here is an ECMA-262 regular expression (JSON Schema's meaning, chalicelib/domain/patterns.py)
# written so that Python's `re` reads it the same way too (explicit classes: no \d, \w, \s or `.`): clients
# that generate or check values with either engine agree with the server.

# Text: control characters (C0, DEL, C1, and the line and paragraph separators) and blanks (the
# characters either engine calls white space, besides the controls).
CONTROL_CHARACTERS = "\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029"
BLANK_CHARACTERS = "\\u0020\\u00a0\\u1680\\u2000-\\u200a\\u202f\\u205f\\u3000\\ufeff"
# Free text (titles, descriptions, reasons): something visible somewhere; line breaks and tabs allowed.
NON_BLANK = f"[^{BLANK_CHARACTERS}{CONTROL_CHARACTERS}]"
# Names people and alerts give (label values, incident ids, signal types, key names): no control
# character anywhere, not only blanks. Blanks first, then a visible character, then anything printable
# (each step can only go one way, so a long hostile string costs linear time).
IDENTIFIER_TEXT = f"^[{BLANK_CHARACTERS}]*[^{BLANK_CHARACTERS}{CONTROL_CHARACTERS}][^{CONTROL_CHARACTERS}]*$"

# Identifiers
DNS_LABEL_PATTERN = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"  # RFC 1123 label, as Kubernetes checks it (<= 63)
WORKFLOW_ID_PATTERN = DNS_LABEL_PATTERN  # so it can be a resource name
RESERVED_WORKFLOW_IDS = ("search", "versions")  # path segments of the API


def decimal_at_most(bound: int) -> str:
    """An ECMA-262 group matching exactly the decimal numbers 0..``bound`` written without leading zeros."""
    digits = str(bound)

    def span(low: int, high: int) -> str:
        return str(low) if low == high else f"[{low}-{high}]"

    def any_digits(count: int) -> str:
        return "" if count == 0 else "[0-9]" if count == 1 else f"[0-9]{{{count}}}"

    choices = ["0"]
    shorter = len(digits) - 2  # fewer digits than the bound: any such number
    if shorter >= 0:
        choices.append("[1-9]" + ("" if shorter == 0 else "[0-9]?" if shorter == 1 else f"[0-9]{{0,{shorter}}}"))
    for index, digit in enumerate(digits):  # as many digits: equal up to ``index``, then a smaller digit
        low = 1 if index == 0 else 0
        if int(digit) > low:
            choices.append(digits[:index] + span(low, int(digit) - 1) + any_digits(len(digits) - index - 1))
    if bound > 0:
        choices.append(digits)
    return "(?:" + "|".join(choices) + ")"


# SemVer 2.0.0 (the grammar semver.org gives) with the optional leading v, and the bounds the catalog stores
# (chalicelib/domain/versions.py): MAJOR, MINOR and PATCH at most 2^31-1 (integer columns), numeric
# pre-release identifiers at most 20 digits (zero-padded to 20 for ordering in SQL).
MAX_VERSION_COMPONENT = 2**31 - 1
PRERELEASE_DIGITS = 20
MAX_VERSION_LENGTH = 128
_NUMBER = decimal_at_most(MAX_VERSION_COMPONENT)
_PRERELEASE_ID = f"(?:0|[1-9][0-9]{{0,{PRERELEASE_DIGITS - 1}}}|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)"
SEMVER_PATTERN = (
    f"^[vV]?{_NUMBER}\\.{_NUMBER}\\.{_NUMBER}(?:-{_PRERELEASE_ID}(?:\\.{_PRERELEASE_ID})*)?"
    "(?:\\+[0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*)?$"
)
# An image reference pinned by digest, [host[:port]/]repository[:tag]@sha256:<64 hex>, exactly as
# chalicelib/domain/images.py parses it: the first of several path segments is a registry host when it has a
# "." or a port (or is an [IPv6] address), else a repository component without "."; one segment alone is a
# repository of Docker Hub.
_HOST_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_PORT = "(?::[0-9]{1,5})"
_IMAGE_HOST = (f"(?:{_HOST_LABEL}(?:\\.{_HOST_LABEL})+{_PORT}?|{_HOST_LABEL}{_PORT}|"
               f"\\[[0-9a-fA-F:]+\\]{_PORT}?)")
_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_FIRST_COMPONENT = "[a-z0-9]+(?:(?:_|__|-+)[a-z0-9]+)*"
PINNED_IMAGE_PATTERN = (
    f"^(?:(?:{_IMAGE_HOST}|{_FIRST_COMPONENT})(?:/{_COMPONENT})+|{_COMPONENT})"
    "(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?@sha256:[a-f0-9]{64}$"
)
MAX_IMAGE_REFERENCE = 512

# A resource name (RFC 1123 subdomain, as Kubernetes checks it): dot-separated labels, at most 253 characters.
DNS_SUBDOMAIN_PATTERN = "^[a-z0-9]([-a-z0-9]{0,251}[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]{0,251}[a-z0-9])?)*$"
MAX_DNS_SUBDOMAIN = 253
MAX_DNS_LABEL = 63
# metadata.generation: Kubernetes' int64 (a bigint column).
MAX_GENERATION = 2**63 - 1
# A reconciliation's live set: at ~130 bytes per resource, 7,000 stay under the default 1 MiB body limit.
MAX_LIVE_RESOURCES = 7000

# Workflow content
MAX_TITLE = 200
MAX_DESCRIPTION = 8000
MAX_REASON = 1000

# Labels
REQUIRED_LABELS = ("signal_type", "severity", "environment", "component")
LABEL_KEY_PATTERN = "^[a-z][a-z0-9_]{0,62}$"
LABEL_VALUE_PATTERN = IDENTIFIER_TEXT
MAX_LABELS = 32
MAX_LABEL_VALUES = 32
MAX_LABEL_VALUE = 128

# Search
DEFAULT_TOP_K, MAX_TOP_K = 10, 100
MAX_QUERY_LENGTH = 4000

# Lists
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 50, 200
MAX_CURSOR = 512

# Executions
MAX_INCIDENT_BYTES = 32 * 1024
MAX_INCIDENT_DEPTH = 8
MAX_INCIDENT_ID = 256
MAX_SIGNAL_TYPE = 128
MAX_MESSAGE = 4000
# The resource a remediation acts on, by Kubernetes' own rules: a kind (UpperCamelCase), a DNS-1123
# subdomain name, a DNS-1123 label namespace.
TARGET_KIND_PATTERN = "^[A-Z][A-Za-z0-9]{0,62}$"
MAX_TARGET_NAME = MAX_DNS_SUBDOMAIN
TARGET_NAME_PATTERN = DNS_SUBDOMAIN_PATTERN
TARGET_NAMESPACE_PATTERN = DNS_LABEL_PATTERN
# Incident labels that bind an execution (besides its business_context entries).
INCIDENT_LABELS = ("signal_type", "severity", "environment", "component", "priority")

# Guardrails (README, "Guardrails"; chalicelib/domain/guards.py): each per-workflow setting and its bounds, which
# also bound the DEFAULT_* configuration (a setting outside them is a 400; a limit of 0 would stop the workflow,
# which disabling it says plainly).
GUARD_SETTING_BOUNDS = {
    "cooldown_seconds": (0, 7 * 24 * 3600),
    "max_consecutive_failures": (1, 100),
    "max_executions_per_hour": (1, 10_000),
    "max_concurrent": (1, 1_000),
}

# Clusters (README, "Ownership, clusters and key limits")
CLUSTER_NAME_PATTERN = WORKFLOW_ID_PATTERN  # a DNS-1123 label
DEFAULT_CLUSTER = "default"  # the cluster of a key bound to none

# The in-cluster runner (README, "The in-cluster runner")
MAX_RUNNER_ID = 253  # a pod's hostname fits
MAX_CLAIM_ITEMS = 10  # executions one claim may lease
MAX_CLAIM_WAIT_SECONDS = 20  # a claim's long poll (an API Gateway request lasts at most 29 s)
MAX_LEASE_LAPSES = 3  # leases that may end with no report; the last one fails the execution (runner-lost)
MAX_EXECUTION_REASON = 1000  # a report's reason (Tekton's, e.g. PipelineRunTimeout)
MAX_REPORTED_UID = 128  # a Kubernetes uid is 36 characters
# How far ahead of the catalog's clock a reported time may be (clock skew between a cluster and the catalog).
MAX_REPORT_CLOCK_SKEW_SECONDS = 300

# API keys
API_SCOPES = ("catalog:read", "catalog:write", "registrations:write", "executions:write", "executions:approve",
              "executions:run", "recommendations:write", "alerts:write", "admin")
MAX_KEY_NAME = 100
MAX_KEY_ID = 64

# Parameter schemas (docs/playbook-schema.md)
MAX_PARAMETERS = 100
MAX_SCHEMA_BYTES = 64 * 1024
PARAMETER_NAME_PATTERN = "^[A-Z][A-Z0-9_]*$"  # an environment variable name

# Composite workflows (docs/composite-workflows.md)
STEP_NAME_PATTERN = WORKFLOW_ID_PATTERN  # a DNS-1123 label: it names a Tekton pipeline task
MAX_STEPS = 32  # in steps, and again in finally
MAX_VERSION_RANGE = 256  # an npm-style SemVer range


# Recommendations
MAX_RECOMMENDATION_SUMMARY = 500
MAX_RECOMMENDATION_RATIONALE = 4000
MAX_PROPOSED_STEPS = 20
MAX_PROPOSED_STEP = 500
MAX_LISTED_INCIDENTS = 50  # incidents shown with a recommendation (the newest; occurrences counts them all)

# Alert intake (Alertmanager's webhook, version 4; chalicelib/domain/alerts.py)
ALERT_FINGERPRINT_PATTERN = "^[0-9a-f]{16}$"  # Alertmanager's fingerprint: 64-bit FNV-1a of the labels, in hex
MAX_ALERTS_PER_NOTIFICATION = 1000  # Alertmanager's webhook_configs max_alerts should be at most this
# Alertmanager splits a group by count (max_alerts), never by size: 1,000 alerts of realistic size (1-3 KB of
# labels and annotations each) exceed the general 1 MiB body limit, so this one route accepts up to 4 MiB
# (with the JSON escaping of the Lambda event, still under Lambda's 6 MB request limit).
MAX_ALERT_NOTIFICATION_BYTES = 4 * 1024 * 1024
MAX_ALERT_LABELS = 100
MAX_ALERT_LABEL_VALUE = 4096
MAX_TIMESTAMP = 64  # an RFC 3339 time as Go writes it (nanoseconds and an offset) is at most 35 characters

# Effectiveness (README, "Effectiveness"; chalicelib/domain/effectiveness.py)
# The window after a success in which its alerts must resolve and stay resolved (EFFECTIVENESS_WINDOW_SECONDS): at
# most 6 hours, well within the 24 hours the guard ineffective-chain looks back, so the verdicts it counts arrive
# while they still count.
EFFECTIVENESS_WINDOW_BOUNDS = (1, 6 * 3600)
MAX_EVIDENCE_EPISODES = 50  # episodes a verdict's evidence lists (the deciding ones first); it counts them all
