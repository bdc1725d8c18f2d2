"""Inventory collection on the agent (DESIGN §10): one module per group of sections, the collection
engine that runs them under a time budget, and the service that schedules them and sends what changed.
"""
