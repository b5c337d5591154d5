"""HTTP API of the assistant server."""
