"""Scoring step of a bundle exported by the harness.

Copied into the bundle's ``scoring_program`` folder, beside a copy of the
harness, the challenge's metric plugins, pluggy and ``challenge.json``. The
work is done by :mod:`harness.codabench.scoring`; this file only puts its own
folder first on the import path, so the copies in the bundle are used rather
than anything installed in the image.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(os.path.dirname(os.path.abspath(__file__)))

if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    from harness.codabench.scoring import main

    sys.exit(main(program_dir=HERE))
