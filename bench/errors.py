"""Why a benchmark run stopped: `returnrisk bench` prints the message and keeps the logs."""


class BenchError(RuntimeError):
    """A step of the run failed or stalled; the message says which, and how far it got."""
