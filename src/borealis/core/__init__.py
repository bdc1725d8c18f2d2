"""Pieces every part shares: errors, settings, logging, backoff, the home folder."""
