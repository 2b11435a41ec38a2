"""Chalice entry point: the app, its middleware and its blueprints. Routes live in chalicelib/routes."""

from chalice import Rate
from chalice.app import CloudWatchEvent, SQSEvent

from chalicelib.http.application import CatalogApp
from chalicelib.http.auth import auth
from chalicelib.http.middleware import request_middleware
from chalicelib.routes.alerts import alerts
from chalicelib.routes.api_keys import api_keys
from chalicelib.routes.executions import executions
from chalicelib.routes.mcp import mcp
from chalicelib.routes.ops import ops
from chalicelib.routes.recommendations import recommendations
from chalicelib.routes.registrations import registrations
from chalicelib.routes.search import search
from chalicelib.routes.workflows import workflows

app = CatalogApp(app_name="workflow-catalog")
app.register_middleware(request_middleware, "http")
app.register_blueprint(auth)
app.register_blueprint(ops)
app.register_blueprint(executions)
app.register_blueprint(mcp)
app.register_blueprint(workflows)
app.register_blueprint(recommendations)
app.register_blueprint(registrations)
app.register_blueprint(search)
app.register_blueprint(api_keys)
app.register_blueprint(alerts)


@app.lambda_function(name="migrate")
def migrate(event: dict, context: object) -> dict:
    """Applies pending SQL migrations: run by CloudFormation on deploys that change them, or invoked directly."""
    from chalicelib.adapters.aws.custom_resource import run_custom_resource
    from chalicelib.container import services
    from chalicelib.stores.migrations import apply_migrations

    def run() -> dict[str, str]:
        applied = apply_migrations(services().db)
        services().search.ensure_ready()  # the embedding column and index for the configured dimension
        return {"applied": ",".join(applied)}

    return dict(run_custom_resource(event, run, getattr(context, "log_stream_name", None)))


@app.on_sqs_message(queue="workflow-catalog-registrations", batch_size=1)
def registration_worker(event: SQSEvent) -> None:
    """Runs a registration job per message; an exception returns it to the queue (DLQ after 5 receives)."""
    from chalicelib.adapters.dispatch import handle_sqs_records
    from chalicelib.container import services

    handle_sqs_records(event, services().registration_job)


@app.schedule(Rate(1, unit=Rate.MINUTES), name="maintenance")
def maintenance(event: CloudWatchEvent) -> dict:
    """Every minute: registrations whose worker died (expired lease) or that were never started are queued
    again through SQS, jobs whose worker kept dying are failed, executions past their approval window
    expire, freeing their targets and held values, runners' lapsed leases are counted, successes whose
    effectiveness window has ended are judged, and the notification outbox is delivered to the webhook and
    the SNS topic (``make run`` does the same on a thread; reads and actions also expire executions and judge
    successes on the spot). See chalicelib/services/maintenance.py."""
    from chalicelib.container import services

    return services().maintenance.run()
