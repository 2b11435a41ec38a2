"""Remediation Workflow Catalog: domain, services, stores, adapters and the HTTP edge.

Layout (dependencies point inwards):
  domain/    pure rules and models: versions, labels, parameter schemas, lifecycle, errors
  services/  use cases that decide: catalog, search, registration, execution
  stores/    PostgreSQL access, one module per store, SQL migrations
  adapters/  the outside world behind small Protocols: embeddings, OCI registries, AWS, dispatch
  http/      the web edge: problems (RFC 7807), request parsing, auth, OpenAPI, logging
  routes/    Chalice blueprints, a few lines per route: parse -> service -> respond
"""

# Lambda SnapStart hooks must be registered by a module the handler imports; both handler modules
# (app.py and chalicelib/http/auth.py) import this package first. A no-op outside Lambda.
from chalicelib.adapters.aws.snapstart import register_runtime_hooks

register_runtime_hooks()
