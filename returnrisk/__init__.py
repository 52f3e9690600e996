"""returnrisk: event-streaming return-risk scoring for e-commerce.

This package is the command line on top of every other room (tests/test_layers.py holds the
order): the layers `schemas` -> `features` -> `explain` -> `models` -> `reporting`, `policy` ->
`streams`, and the tools beside them (`ingest`, `analytics`, `simulator`, `devstack`,
`producer`, `bench`). Each `*_cli.py` here mounts one command; nothing imports this package.
"""

from __future__ import annotations

__version__ = "0.1.0"
