"""`python -m app` runs the `loupe` command line."""

from app.cli import main

main()
