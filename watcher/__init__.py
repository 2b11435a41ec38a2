"""The in-cluster watcher: forwards RemediationWorkflow events to the catalog and writes the outcome back, and
runs the cluster's executions (the runner: claims them, creates their PipelineRuns, reports Tekton's outcome).

A separate, small process (its own requirements.txt and image) that never imports chalicelib: it talks
to the catalog only over the HTTP contract (POST/GET /api/v1/registrations, POST
/api/v1/registrations/reconcile, POST /api/v1/executions/claim and PATCH /api/v1/executions/{id}), so it
can run in any cluster against any deployment of the API.
"""
