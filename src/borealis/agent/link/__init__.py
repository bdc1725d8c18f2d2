"""The agent's link to the server: the WebSocket connection, reconnect policy, heartbeats, and the
outbox/uplink that carry frames out and the inbox that routes frames in."""
