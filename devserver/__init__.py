"""The development server of `make run`, outside the package Lambda gets (scripts/package.sh ships app.py and
chalicelib/ only; tests/infra/test_package.py checks that none of this is in it).

- ``__main__``: ``python -m devserver [--port N]``, what `make run` runs: the embedded PostgreSQL (unless
  DATABASE_URL is set), migrations, the examples, the development key, the maintenance loop and the server;
- ``local_server``: Chalice's local API Gateway emulation served as a real multi-client HTTP server;
- ``gateway``: the local stand-in for the Gateway Responses infra/ configures in AWS (also the tests' client).
"""
