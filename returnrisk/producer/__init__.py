"""Send an event log (JSON Lines) to the input topics: `returnrisk produce`.

`produce_file` is the library entry point; `returnrisk.producer.cli` only adds the progress bar
and the printed summary.
"""

from __future__ import annotations

from returnrisk.producer.lines import MalformedLine
from returnrisk.producer.report import ProduceReport
from returnrisk.producer.send import ProduceError, produce_file, produce_file_async

__all__ = ["MalformedLine", "ProduceError", "ProduceReport", "produce_file", "produce_file_async"]
