"""`python -m app` runs the `loupe` command line."""

from app.launch import main

main()
