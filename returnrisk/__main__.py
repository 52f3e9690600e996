"""`python -m returnrisk ...` is the `returnrisk` command."""

from returnrisk.cli import main

main()
