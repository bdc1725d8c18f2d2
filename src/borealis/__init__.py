"""Borealis: self-hosted remote monitoring, management and automation."""

__version__ = "0.1.0"
