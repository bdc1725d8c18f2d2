"""Storage: tables, the async engine, and migrations (SQLite or PostgreSQL)."""
