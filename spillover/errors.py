"""The common base of every error a user can act on.

Each stage raises a subclass (``ConfigError``, ``IngestError``, ``PipelineError``, …) whose
message names the file, line, column or config key at fault. The CLI and the DAG catch
:class:`SpilloverError` once and print the message without a traceback; anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations


class SpilloverError(Exception):
    """A user-facing error: the message says what is wrong and where to fix it."""
