"""Response models of the HTTP API, split by area; they describe the JSON the routes return."""
