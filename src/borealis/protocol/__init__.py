"""The wire contract shared by the server and the agent: messages, close codes, keys and signatures."""

PROTOCOL_VERSION = 1
MIN_PROTOCOL_VERSION = 1
