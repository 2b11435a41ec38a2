"""Every limit and identifier pattern of the API, defined once.

The request contracts (domain/contracts.py), the domain rules, the OpenAPI document and the MCP
tool schemas all read them from here, so a limit cannot drift between what is documented and what
is enforced.
"""

from __future__ import annotations

# Identifiers
WORKFLOW_ID_PATTERN = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"  # a DNS-1123 label
RESERVED_WORKFLOW_IDS = ("search", "versions")  # path segments of the API
# SemVer 2.0.0 (the regular expression semver.org suggests) with the optional leading v.
SEMVER_PATTERN = (
    r"^[vV]?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
MAX_VERSION_LENGTH = 128
PINNED_IMAGE_PATTERN = "@sha256:[a-f0-9]{64}$"
MAX_IMAGE_REFERENCE = 512

K8S_NAME_PATTERN = "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"  # a namespace or resource name (DNS-1123 subdomain)
# A reconciliation's live set: at ~130 bytes per resource, 7,000 stay under the default 1 MiB body limit.
MAX_LIVE_RESOURCES = 7000

# Workflow content
MAX_TITLE = 200
MAX_DESCRIPTION = 8000
MAX_REASON = 1000

# Labels
REQUIRED_LABELS = ("signal_type", "severity", "environment", "component")
LABEL_KEY_PATTERN = "^[a-z][a-z0-9_]{0,62}$"
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
# The resource a remediation acts on (Kubernetes names): a kind, a DNS-1123 subdomain name, a label namespace.
TARGET_KIND_PATTERN = "^[A-Za-z][A-Za-z0-9]{0,62}$"
MAX_TARGET_NAME = 253
TARGET_NAME_PATTERN = "^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"
TARGET_NAMESPACE_PATTERN = WORKFLOW_ID_PATTERN
# Incident labels that bind an execution (besides its business_context entries).
INCIDENT_LABELS = ("signal_type", "severity", "environment", "component", "priority")

# Clusters (README, "Ownership, clusters and key limits")
CLUSTER_NAME_PATTERN = WORKFLOW_ID_PATTERN  # a DNS-1123 label
DEFAULT_CLUSTER = "default"  # the cluster of a key bound to none
MAX_NAMESPACE = 63

# The in-cluster runner (README, "The in-cluster runner")
MAX_RUNNER_ID = 253  # a pod's hostname fits
NO_CONTROL_CHARACTERS = "^[^\\x00-\\x1F\\x7F-\\x9F]+$"  # identifiers a person reads in logs and lists
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
