"""Chalice entry point: the app, its middleware and its blueprints. Routes live in chalicelib/routes."""

from chalice import Chalice

from chalicelib.http.auth import auth
from chalicelib.http.middleware import request_middleware
from chalicelib.routes.ops import ops
from chalicelib.routes.playbooks import playbooks

app = Chalice(app_name="workflow-catalog")
app.register_middleware(request_middleware, "http")
app.register_blueprint(auth)
app.register_blueprint(ops)
app.register_blueprint(playbooks)
