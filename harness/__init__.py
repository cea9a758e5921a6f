"""Evaluation harness for scientific anomaly-detection challenges.

The pipeline, one module per step: :mod:`harness.plugins` discovers plugins,
:mod:`harness.challenge` loads challenge files, :mod:`harness.submission`
normalises submissions, sandbox plugins run them, :mod:`harness.validation`
checks what came back, :mod:`harness.scoring` scores it and
:mod:`harness.records` writes the run record. :mod:`harness.evaluate` ties
them together.
"""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("harness")
except metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
