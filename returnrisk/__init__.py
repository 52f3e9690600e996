"""returnrisk: event-streaming return-risk scoring for e-commerce.

This package is the shell around the architecture packages (`schemas`, `features`, `models`,
`streams`): configuration, the command line, the event simulator and local infrastructure.
"""

from __future__ import annotations

__version__ = "0.1.0"
