"""Routes of the invoke endpoint (README, "Registration"): parse -> RegistrationService -> respond."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.container import services
from chalicelib.domain import contracts
from chalicelib.domain.reconciliation import parse_reconciliation
from chalicelib.domain.resource import parse_event
from chalicelib.http.endpoint import Call, endpoint, json_response
from chalicelib.http.views import reconcile_view, registration_view
from chalicelib.observability import current_correlation_id

registrations = Blueprint(__name__)
BASE = "/api/v1/registrations"


@endpoint(registrations, BASE, methods=("POST",), scope="registrations:write", body=contracts.REGISTRATION_EVENT,
          summary="Register a RemediationWorkflow event (the watcher's invoke endpoint); runs asynchronously",
          description="The object is validated against the CRD's openAPIV3Schema (crds/remediationworkflow.yaml). "
                      "Idempotent per delivery: the same resource uid, generation and event returns the same "
                      "registration and queues nothing new. DELETED disables the workflow.",
          responses={202: ("Queued (or already known)", "Registration")}, errors=(503,))
def submit(call: Call) -> object:
    event = parse_event(call.json(), services().resource_contract)
    assert call.principal is not None  # the route has a scope
    row, _ = services().registrations.submit(event, call.principal, current_correlation_id())  # id: middleware
    return json_response(registration_view(row), status=202)


@endpoint(registrations, BASE + "/reconcile", methods=("POST",), scope="registrations:write",
          body=contracts.RECONCILE_REQUEST,
          summary="Reconcile the catalog with the resources a watcher sees after a full list",
          description="Workflows whose source resource is in the scope and not live are disabled in one transaction "
                      "(audited; workflows created over REST are never touched; a source registered within "
                      "RECONCILE_GRACE_SECONDS is left to the next round). `stale` names the live resources whose "
                      "generation the catalog has not registered: forward them again. Nothing is enabled. A key "
                      "limited to namespaces may reconcile only one of them (403 otherwise). The live set holds at "
                      "most 7,000 resources (about 1 MiB).",
          responses={200: ("What changed", "ReconcileResult")})
def reconcile(call: Call) -> object:
    assert call.principal is not None  # the route has a scope
    result = services().registrations.reconcile(parse_reconciliation(call.json()), call.principal)
    return reconcile_view(result.disabled, result.stale)


@endpoint(registrations, BASE + "/{registration_id}", summary="A registration's status and outcome",
          responses={200: ("The registration", "Registration")}, errors=(404,))
def get(call: Call, registration_id: str) -> object:
    return registration_view(services().registrations.get(registration_id))
