"""Workflow node types, one module each (DESIGN §11); `base` holds their contract and
`engine.registry` lists them.
"""
