"""The agent interface: a Model Context Protocol server on one route (``POST /mcp``).

- ``tools``: each MCP tool is one REST route, run in-process with the tool's arguments as its path
  values and body (same contract, scope, service call and response view).
- ``protocol``: the JSON-RPC and Streamable HTTP glue for both protocol eras, on the official SDK's
  types (``mcp-types``); imported only when an MCP request arrives, so other requests never pay for it.
"""
