"""Transport: HTTP and WebSocket handlers speaking the wire protocol of docs/PROTOCOL.md."""
