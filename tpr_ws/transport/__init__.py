"""Transport: HTTP and WebSocket handlers speaking the wire protocol of DESIGN.md."""
