"""HTTP routes under /api/v1, one module per resource; each route names the scope it needs."""
