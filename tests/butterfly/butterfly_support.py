"""An in-process stand-in for the per-item calling protocol.

It does what the ``python-model`` runner does for ``per-item`` with the
``pillow`` loader, minus the sandbox: import the submission's ``model.py``,
call ``Model()`` and ``load()``, then ``predict`` once per manifest item with
the image exactly as ``PIL.Image.open`` returns it. Tests use it to check the
reference submissions without starting a sandbox.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def import_model_class(submission: Path) -> type:
    """Import ``submission/model.py`` under a private name; return ``Model``."""
    name = f"_butterfly_submission_{abs(hash(submission.resolve()))}"
    spec = importlib.util.spec_from_file_location(name, submission / "model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.Model


def run_per_item(submission: Path, inputs_dir: Path) -> tuple[list[str], np.ndarray]:
    """Score every item of a staged ``files`` split, in manifest order.

    :returns: the ids and one float64 score per id.
    :raises AssertionError: when the model returns anything but one finite
        real number, or converts the image in place (the next call would
        then see something other than what Pillow opened).
    """
    manifest = json.loads((inputs_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "files"
    model = import_model_class(submission)()
    model.load()
    scores = []
    for item, relative in zip(manifest["ids"], manifest["files"], strict=True):
        with Image.open(inputs_dir / relative) as image:
            mode, size = image.mode, image.size
            value = model.predict(image)
            assert (image.mode, image.size) == (mode, size), item
        assert np.ndim(value) == 0 and not isinstance(value, (str, bytes)), (
            item,
            value,
        )
        value = float(value)
        assert math.isfinite(value), (item, value)
        scores.append(value)
    return list(manifest["ids"]), np.asarray(scores, dtype=np.float64)
