"""Workflow node types, one module each (DESIGN §11); `base` holds their contract and
`workflows.registry` lists them.
"""
