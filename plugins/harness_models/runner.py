"""Run a ``model.py`` submission inside a sandbox; write what it returns.

This file runs inside the sandbox, possibly under an older Python and numpy,
so it uses only the standard library and numpy (Pillow for image items). It
never sees the truth. Usage::

    python runner.py --submission DIR --inputs DIR --output DIR --protocol JSON

It writes ``predictions.json`` (the model's outputs, aligned with the item
ids) and ``runner.json`` (status, the stage, call and item of a failure, and
timings) into the output folder. The host checks both; nothing here is
trusted.
"""

import argparse
import importlib.util
import json
import math
import os
import sys
import time
import traceback

STAGES = ("start", "import", "init", "load", "predict", "output")
MAX_TRACEBACK = 8000


class StageError(Exception):
    """A failure at a known stage, call and item."""

    def __init__(self, stage, message, *, call=None, item=None, exc=None):
        super().__init__(message)
        self.stage = stage
        self.call = call
        self.item = item
        self.exc = exc


def describe_value(value):
    """A short description of what a call returned, for error messages."""
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"{type(value).__name__} of shape {tuple(shape)}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def as_plain(value, numpy, call, item):
    """Convert a model output to nested lists of numbers, or raise StageError."""
    if isinstance(value, (bool, int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        array = numpy.asarray(value)
    except Exception as exc:  # the model returned something numpy rejects
        raise StageError(
            "predict",
            f"{call} returned {describe_value(value)}, which is not numeric",
            call=call,
            item=item,
            exc=exc,
        ) from exc
    if array.dtype.kind not in "biuf":
        raise StageError(
            "predict",
            f"{call} returned {describe_value(value)} (dtype {array.dtype}), "
            "expected numbers",
            call=call,
            item=item,
        )
    return array.astype("float64").tolist()


def check_item_shape(plain, expected, numpy, call, item):
    shape = tuple(numpy.shape(plain))
    if shape != tuple(expected):
        raise StageError(
            "predict",
            f"{call} returned shape {shape} where {tuple(expected)} was expected",
            call=call,
            item=item,
        )


def import_model(submission):
    path = os.path.join(submission, "model.py")
    if not os.path.isfile(path):
        raise StageError("import", "no model.py at the submission root")
    sys.path.insert(0, submission)
    spec = importlib.util.spec_from_file_location("model", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["model"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        raise StageError(
            "import", f"importing model.py raised {type(exc).__name__}: {exc}", exc=exc
        ) from exc
    if not hasattr(module, "Model"):
        raise StageError("import", "model.py defines no class Model")
    return module.Model


def make_model(cls, load_policy):
    try:
        model = cls()
    except BaseException as exc:
        raise StageError(
            "init",
            f"Model() raised {type(exc).__name__}: {exc}",
            call="Model()",
            exc=exc,
        ) from exc
    has_load = callable(getattr(model, "load", None))
    if load_policy == "always" and not has_load:
        raise StageError(
            "load",
            "Model has no load() method, which this challenge calls",
            call="load()",
        )
    if load_policy != "never" and has_load:
        try:
            model.load()
        except BaseException as exc:
            raise StageError(
                "load",
                f"load() raised {type(exc).__name__}: {exc}",
                call="load()",
                exc=exc,
            ) from exc
    if not callable(getattr(model, "predict", None)):
        raise StageError("init", "Model has no predict() method")
    return model


def call_predict(model, argument, call, item):
    try:
        return model.predict(argument)
    except BaseException as exc:
        raise StageError(
            "predict",
            f"{call} raised {type(exc).__name__}: {exc}",
            call=call,
            item=item,
            exc=exc,
        ) from exc


def read_manifest(inputs):
    with open(os.path.join(inputs, "manifest.json"), encoding="utf-8") as fh:
        return json.load(fh)


def run_batch(model, manifest, inputs, options, numpy):
    data = numpy.load(os.path.join(inputs, manifest["array"]), mmap_mode="r")
    x = numpy.asarray(data, dtype=options.get("dtype", "float32"))
    standardise = options.get("standardise")
    if standardise:
        axis = standardise.get("axis", -1)
        std = x.std(axis=axis, keepdims=True)
        # A flat channel would divide by zero; leave it as it is.
        std[std == 0] = 1.0
        x = x / std
    if options.get("transpose"):
        x = numpy.ascontiguousarray(numpy.transpose(x, options["transpose"]))
    call = f"predict(X) with X of shape {tuple(x.shape)}"
    value = call_predict(model, x, call, None)
    plain = as_plain(value, numpy, call, None)
    expected = (len(manifest["ids"]),) + tuple(options.get("output_shape", []))
    check_item_shape(plain, expected, numpy, "predict(X)", None)
    return plain, 1


def load_item(path, loader, numpy):
    if loader == "pillow":
        from PIL import Image

        return Image.open(path)
    if loader == "npy":
        return numpy.load(path, allow_pickle=False)
    if loader == "bytes":
        with open(path, "rb") as fh:
            return fh.read()
    raise StageError("start", f"unknown item loader {loader!r}")


def run_per_item(model, manifest, inputs, options, numpy):
    loader = options.get("loader", "pillow")
    expected = tuple(options.get("output_shape", []))
    values = []
    for item_id, rel in zip(manifest["ids"], manifest["files"], strict=False):
        try:
            item = load_item(os.path.join(inputs, rel), loader, numpy)
        except StageError:
            raise
        except Exception as exc:
            raise StageError(
                "predict",
                f"the harness could not open input {item_id!r}: {exc}",
                item=item_id,
                exc=exc,
            ) from exc
        call = f"predict(item {item_id!r})"
        value = call_predict(model, item, call, item_id)
        plain = as_plain(value, numpy, call, item_id)
        check_item_shape(plain, expected, numpy, call, item_id)
        if expected == () and not math.isfinite(plain):
            raise StageError(
                "predict",
                f"{call} returned {plain!r}, expected a finite float",
                call=call,
                item=item_id,
            )
        values.append(plain)
        close = getattr(item, "close", None)
        if close is not None:
            close()
    return values, len(values)


def run_sequential(model, manifest, inputs, options, numpy):
    data = numpy.load(os.path.join(inputs, manifest["array"]), mmap_mode="r")
    expected = tuple(options.get("output_shape", []))
    dtype = options.get("dtype", "float32")
    values = []
    for index, item_id in enumerate(manifest["ids"]):
        x = numpy.array(data[index], dtype=dtype)
        call = f"predict(x) for {item_id!r} (call {index + 1})"
        value = call_predict(model, x, call, item_id)
        plain = as_plain(value, numpy, call, item_id)
        check_item_shape(plain, expected, numpy, call, item_id)
        values.append(plain)
    return values, len(values)


PROTOCOLS = {"batch": run_batch, "per-item": run_per_item, "sequential": run_sequential}


def write_json(path, document):
    tmp = path + ".part"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(document, fh, allow_nan=True)
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submission", required=True)
    parser.add_argument("--inputs", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--protocol", required=True)
    args = parser.parse_args(argv)
    report = {
        "status": "error",
        "stage": "start",
        "timings": {},
        "calls": 0,
        "versions": {"python": sys.version.split()[0]},
    }
    output = args.output
    started = time.perf_counter()
    stage_started = started

    def mark(stage):
        nonlocal stage_started
        now = time.perf_counter()
        report["timings"][report["stage"]] = round(now - stage_started, 6)
        report["stage"] = stage
        stage_started = now

    try:
        protocol = json.loads(args.protocol)
        name = protocol.get("name")
        options = protocol.get("options", {})
        if name not in PROTOCOLS:
            raise StageError("start", f"unknown protocol {name!r}")
        import numpy

        report["versions"]["numpy"] = numpy.__version__
        manifest = read_manifest(args.inputs)
        os.chdir(args.submission)
        mark("import")
        cls = import_model(args.submission)
        mark("init")
        model = make_model(cls, options.get("load", "if-defined"))
        mark("predict")
        values, calls = PROTOCOLS[name](model, manifest, args.inputs, options, numpy)
        report["calls"] = calls
        mark("output")
        write_json(
            os.path.join(output, "predictions.json"),
            {"format_version": 1, "ids": manifest["ids"], "values": values},
        )
        report["status"] = "ok"
        mark("output")
        code = 0
    except StageError as exc:
        report["stage"] = exc.stage
        error = {
            "type": type(exc.exc).__name__ if exc.exc else "StageError",
            "message": str(exc),
        }
        if exc.call is not None:
            error["call"] = exc.call
        if exc.item is not None:
            error["item"] = exc.item
        if exc.exc is not None:
            text = "".join(
                traceback.format_exception(
                    type(exc.exc), exc.exc, exc.exc.__traceback__
                )
            )
            error["traceback"] = text[-MAX_TRACEBACK:]
        report["error"] = error
        code = 3
    except BaseException as exc:
        report["error"] = {
            "type": type(exc).__name__,
            "message": str(exc),
            "traceback": traceback.format_exc()[-MAX_TRACEBACK:],
        }
        code = 4
    report["timings"]["total"] = round(time.perf_counter() - started, 6)
    try:
        write_json(os.path.join(output, "runner.json"), report)
    except OSError as exc:
        sys.stderr.write(f"runner: cannot write runner.json: {exc}\n")
        code = code or 5
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
