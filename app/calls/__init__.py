"""Call flows: SIP messages taken from the logs in the signature pass, grouped into calls, laid out.

Pure core (no FastAPI, no SQLAlchemy): `extract` reads SIP messages out of the blocks the
signature engine already holds, `group` builds calls across the nodes of an analysis, `ladder`
lays a call out as columns and arrows, `render` draws that layout as SVG or text.
"""
