"""Turn uploaded diagnostic bundles into classified files and node identities.

`unpack` extracts uploads safely into a work dir, `detect` says what each file is, `nodes`
works out which Expressway peer a bundle came from, and `sources` maps the logical source
names used by signatures to file kinds. Nothing here imports FastAPI or SQLAlchemy.
"""
