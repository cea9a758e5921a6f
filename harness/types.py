"""The objects plugins hand to the harness, and the harness hands to plugins.

Plugins return these from their registration hooks (see
:mod:`harness.hookspecs`). They are plain data plus a few methods, so a
plugin can be tested without the harness running.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Availability",
    "DatasetPlugin",
    "Limits",
    "MetricColumn",
    "MetricPlugin",
    "PreparedSplit",
    "ReporterPlugin",
    "SandboxJob",
    "SandboxPlugin",
    "SandboxResult",
    "SubmissionKind",
    "Truth",
]


# -- data ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Truth:
    """Held-out labels of one split, loaded only in the trusted host process.

    :param ids: item identifiers, shape ``(N,)``; integers, file names or
        dates as strings. Predictions are matched to truth by these.
    :param labels: labels in the dataset's own coding, shape ``(N,)`` or
        ``(N, K)`` for several labels per item (one per station, say).
    :param columns: further per-item columns a metric may need, each of
        length ``N`` (for example a subspecies group).
    """

    ids: np.ndarray
    labels: np.ndarray
    columns: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def take(self, index: np.ndarray) -> Truth:
        """Return the items at ``index``, in that order."""
        return Truth(
            ids=self.ids[index],
            labels=self.labels[index],
            columns={k: v[index] for k, v in self.columns.items()},
        )


@dataclasses.dataclass(frozen=True)
class PreparedSplit:
    """One split staged on disk: inputs for the sandbox, truth for the scorer.

    ``inputs_dir`` is mounted read-only into the sandbox and must hold
    nothing derived from the labels. It contains ``manifest.json`` (see
    ``schemas/inputs-manifest.schema.json``) naming the item ids in call order
    and where their data lies. ``truth_file`` is an ``.npz`` with arrays
    ``ids`` and ``labels`` plus any further columns; it lives outside
    ``inputs_dir`` and is never given to a sandbox.
    """

    dataset: str
    split: str
    inputs_dir: Path
    truth_file: Path

    def load_truth(self) -> Truth:
        with np.load(self.truth_file, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        ids = arrays.pop("ids")
        labels = arrays.pop("labels")
        return Truth(ids=ids, labels=labels, columns=arrays)


class DatasetPlugin(abc.ABC):
    """A source of challenge data, real or synthetic.

    Subclasses set :attr:`name`, :attr:`version` and :attr:`splits`, and
    implement :meth:`prepare`.
    """

    name: str
    version: str
    description: str = ""
    splits: tuple[str, ...] = ()
    #: A JSON Schema for the challenge file's ``dataset.options``, or ``None``.
    options_schema: Mapping[str, Any] | None = None

    @abc.abstractmethod
    def prepare(
        self,
        split: str,
        *,
        cache_dir: Path,
        data_dir: Path | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> PreparedSplit:
        """Stage ``split`` under ``cache_dir`` and return where it lies.

        :param split: one of :attr:`splits`.
        :param cache_dir: a folder owned by this dataset; reuse what an
            earlier call left there when it is still valid.
        :param data_dir: a folder holding the real data in its original
            layout; ``None`` asks for the synthetic stand-in.
        :param options: the ``dataset.options`` of the challenge file.
        """


# -- scoring -------------------------------------------------------------------


MetricFunc = Callable[..., "float | Mapping[str, float]"]


@dataclasses.dataclass(frozen=True)
class MetricPlugin:
    """A score computed from truth and validated predictions.

    ``func(truth, y_score, **options)`` receives a :class:`Truth` whose labels
    are already mapped so that 1 means anomalous (the challenge's label
    polarity applied) and ``y_score`` as float64 aligned with ``truth.ids``,
    oriented so that higher means anomalous. It returns one float, or a
    mapping of floats when :attr:`outputs` names several. Degenerate input
    warns and returns NaN rather than raising. ``ValueError`` means the
    predictions are unacceptable (values outside what the metric defines)
    and fails the run as the submission's fault; any other exception is
    reported as a fault of the plugin.

    :param weighted: ``func`` also accepts ``sample_weight`` (non-negative
        integer counts), which lets the bootstrap resample without copying.
        The bootstrap passes its counts as an unsigned integer array, usually
        ``uint8``: compute with them in a wider type.
    """

    name: str
    func: MetricFunc
    greater_is_better: bool = True
    outputs: tuple[str, ...] = ()
    version: str = "1"
    description: str = ""
    weighted: bool = False
    options_schema: Mapping[str, Any] | None = None


@dataclasses.dataclass(frozen=True)
class MetricColumn:
    """One leaderboard column: a metric plugin, its options and an output."""

    key: str
    metric: str
    direction: str
    primary: bool = False
    output: str | None = None
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    precision: int = 4

    @property
    def greater_is_better(self) -> bool:
        return self.direction == "higher"


# -- execution -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SubmissionKind:
    """How a submission's code is loaded and called inside a sandbox.

    :param runner: a Python script, standard library and numpy only, run in
        the sandbox as ``python runner --submission DIR --inputs DIR
        --output DIR --protocol JSON``. It writes ``predictions.json`` and
        ``runner.json`` into the output folder.
    :param protocols: names of the calling protocols the runner understands.
    :param required_files: files a submission of this kind must contain.
    :param check_inputs: optional, called in the harness before the sandbox
        starts as ``check_inputs(protocol, options, inputs_dir)`` with a
        prepared split; returns what in the challenge's protocol options does
        not fit those inputs (an axis the arrays lack, say), one sentence per
        problem. A run with problems fails at stage ``challenge``, blamed on
        the challenge rather than the submission.
    """

    name: str
    runner: Path
    protocols: tuple[str, ...]
    version: str = "1"
    description: str = ""
    required_files: tuple[str, ...] = ()
    #: Per protocol, a JSON Schema for the challenge's protocol options.
    options_schemas: Mapping[str, Mapping[str, Any]] = dataclasses.field(
        default_factory=dict
    )
    check_inputs: Callable[[str, Mapping[str, Any], Path], list[str]] | None = None


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed run."""

    wall_seconds: float = 600.0
    memory_bytes: int = 4 * 1024**3
    processes: int = 64
    cpus: float = 1.0
    output_bytes: int = 256 * 1024**2
    log_bytes: int = 64 * 1024


@dataclasses.dataclass(frozen=True)
class SandboxJob:
    """Everything a sandbox needs to run one submission; never the truth.

    The sandbox exposes ``submission_dir`` and ``inputs_dir`` read-only and
    ``output_dir`` writable, then runs ``python runner --submission ...
    --inputs ... --output ... --protocol <protocol as JSON>`` with the paths
    as the code inside sees them.

    :param hidden: host paths that must not be reachable from inside (the
        truth, the dataset cache, the raw data folder).
    :param image: container image for sandboxes that use one.
    """

    runner: Path
    submission_dir: Path
    inputs_dir: Path
    output_dir: Path
    protocol: Mapping[str, Any]
    limits: Limits = dataclasses.field(default_factory=Limits)
    hidden: tuple[Path, ...] = ()
    image: str | None = None
    label: str = ""


@dataclasses.dataclass(frozen=True)
class SandboxResult:
    """What a sandbox observed; the harness interprets it.

    :param exit_code: the runner's exit status, ``None`` if it never started.
    :param timed_out: the wall-clock deadline passed and the run was killed.
    :param killed_reason: why the sandbox killed the run, if it did (for
        example ``"memory limit"``).
    :param stdout: the last bytes of standard output, bounded.
    :param stderr: the last bytes of standard error, bounded.
    :param notes: what this sandbox could not enforce on this machine.
    """

    exit_code: int | None
    wall_seconds: float
    timed_out: bool = False
    killed_reason: str | None = None
    stdout: str = ""
    stderr: str = ""
    notes: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Availability:
    """Whether a sandbox works here, and if not, why and how to fix it."""

    ok: bool
    reason: str = ""
    fix: str = ""


class SandboxPlugin(abc.ABC):
    """Runs a :class:`SandboxJob` in isolation.

    The sandbox with the highest :attr:`priority` among those available is
    the default.
    """

    name: str
    version: str = "1"
    priority: int = 0
    description: str = ""

    @abc.abstractmethod
    def availability(self) -> Availability:
        """Report whether this sandbox can run jobs on this machine."""

    def prepare_requirements(
        self,
        job: SandboxJob,
        requirements: str,
        *,
        allowed: Mapping[str, str],
        wheels: Path | None,
    ) -> SandboxJob:
        """Return ``job`` changed so that the pinned packages are installed.

        Called before :meth:`run` when a submission holds a non-empty
        ``requirements.txt``. Installing happens here, never during the run.

        :param requirements: the text of ``requirements.txt``.
        :param allowed: package names the challenge allows, each with a
            version specifier (``""`` for any).
        :param wheels: a folder of wheels to install from, offline.
        :raises SubmissionError: the file is refused or cannot be installed;
            the default refuses, since this sandbox cannot install packages.
        """
        from harness.errors import SubmissionError

        raise SubmissionError(
            f"requirements.txt asks for packages, but the {self.name} sandbox "
            "cannot install any; use the docker sandbox (see harness doctor) "
            "or remove requirements.txt"
        )

    @abc.abstractmethod
    def run(self, job: SandboxJob) -> SandboxResult:
        """Run ``job`` to completion or deadline and clean up after it.

        Must not raise for anything the submission does; raise only when the
        sandbox itself is broken (its engine vanished, say).
        """


# -- reporting -----------------------------------------------------------------


class ReporterPlugin(abc.ABC):
    """Presents run records to a person or a machine."""

    name: str
    version: str = "1"

    @abc.abstractmethod
    def render(self, records: list[Mapping[str, Any]]) -> str:
        """Return the records rendered as text."""
