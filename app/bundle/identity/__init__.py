"""Product identity of a node, weighed from evidence (see app.bundle.identity.product)."""
