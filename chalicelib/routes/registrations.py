"""Routes of the invoke endpoint (api.md "Registrations"): parse -> RegistrationService -> respond."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.container import services
from chalicelib.domain import contracts
from chalicelib.domain.resource import parse_event
from chalicelib.http.endpoint import Call, endpoint, json_response
from chalicelib.http.views import registration_view
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
    row, _ = services().registrations.submit(event, call.actor, current_correlation_id())  # id bound by middleware
    return json_response(registration_view(row), status=202)


@endpoint(registrations, BASE + "/{registration_id}", summary="A registration's status and outcome",
          responses={200: ("The registration", "Registration")}, errors=(404,))
def get(call: Call, registration_id: str) -> object:
    return registration_view(services().registrations.get(registration_id))
