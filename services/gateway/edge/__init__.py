"""The edge: what every request to the platform passes through (keys, limits, idempotency,
the route table and the proxy), the merged OpenAPI document, the console and the MCP server."""
