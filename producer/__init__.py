"""Send an event log (JSON Lines) to the input topics: `returnrisk produce`.

`produce_file` is the library entry point; `returnrisk.produce_cli` only adds the progress bar
and the printed summary.
"""

from __future__ import annotations

from producer.lines import MalformedLine
from producer.report import ProduceReport
from producer.send import ProduceError, produce_file, produce_file_async

__all__ = ["MalformedLine", "ProduceError", "ProduceReport", "produce_file", "produce_file_async"]
