"""Operators' security: passwords, API tokens, login sessions, scopes, and the request guard."""
