"""The in-cluster watcher: forwards RemediationWorkflow events to the catalog and writes the outcome back.

A separate, small process (its own requirements.txt and image) that never imports chalicelib: it talks
to the catalog only over the HTTP contract (POST/GET /api/v1/registrations and POST
/api/v1/registrations/reconcile), so it can run in any cluster against any deployment of the API.
"""
