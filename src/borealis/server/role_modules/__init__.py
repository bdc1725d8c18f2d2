"""Role modules the server distributes to agents (issue 5): upload, sign, send, withdraw."""
