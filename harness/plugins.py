"""Plugin discovery and a typed facade over pluggy's hook relay.

Nothing is discovered at import time: :func:`load_plugins` finds the
``harness`` entry-point group (the builtins first, then outside packages),
registers each module, checks that every hook it implements exists, and
collects what the registration hooks return into :class:`Registry` objects
that refuse duplicate names.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any, Generic, TypeVar

import pluggy

from harness import hookspecs
from harness.errors import PluginError, UnknownNameError, did_you_mean
from harness.types import (
    DatasetPlugin,
    MetricPlugin,
    ReporterPlugin,
    SandboxPlugin,
    SubmissionKind,
)

__all__ = ["ENTRY_POINT_GROUP", "PluginInfo", "Plugins", "Registry", "load_plugins"]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "harness"
BUILTIN_DISTRIBUTION = "harness"
BLOCK_ENV = "HARNESS_BLOCK_PLUGINS"

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class PluginInfo:
    """One registered plugin module and the distribution it came from."""

    name: str
    module: str
    distribution: str
    version: str
    builtin: bool


class Registry(Generic[T]):
    """Named objects of one kind, each remembered with the plugin that gave it."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[str, tuple[T, str]] = {}

    def add(self, name: str, item: T, plugin: str) -> None:
        if name in self._items:
            other = self._items[name][1]
            raise PluginError(
                f"{self.what} {name!r} is provided by both plugin {other!r} "
                f"and plugin {plugin!r}; block one of them by name "
                f"(--block or {BLOCK_ENV})"
            )
        self._items[name] = (item, plugin)

    def __getitem__(self, name: str) -> T:
        try:
            return self._items[name][0]
        except KeyError:
            raise UnknownNameError(self.what, name, self._items) from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def provider(self, name: str) -> str:
        """Return the name of the plugin that provides ``name``."""
        self[name]
        return self._items[name][1]

    def items(self) -> list[tuple[str, T]]:
        return [(name, self._items[name][0]) for name in self]


class Plugins:
    """The loaded plugins: a typed facade over the pluggy manager.

    Internal call sites use the registries and the ``notify_*`` methods
    instead of ``pm.hook``, so that mypy checks them.
    """

    def __init__(self, pm: pluggy.PluginManager, infos: list[PluginInfo]) -> None:
        self.pm = pm
        self.infos = infos
        self.datasets: Registry[DatasetPlugin] = Registry("dataset")
        self.metrics: Registry[MetricPlugin] = Registry("metric")
        self.kinds: Registry[SubmissionKind] = Registry("submission kind")
        self.sandboxes: Registry[SandboxPlugin] = Registry("sandbox")
        self.reporters: Registry[ReporterPlugin] = Registry("reporter")
        self.challenge_files: list[tuple[Path, str]] = []

    # -- collection ------------------------------------------------------------

    def _collect(self) -> None:
        hook = self.pm.hook
        self._gather(hook.harness_register_datasets, self.datasets, DatasetPlugin)
        self._gather(hook.harness_register_metrics, self.metrics, MetricPlugin)
        self._gather(hook.harness_register_submission_kinds, self.kinds, SubmissionKind)
        self._gather(hook.harness_register_sandboxes, self.sandboxes, SandboxPlugin)
        self._gather(hook.harness_register_reporters, self.reporters, ReporterPlugin)
        for impl in hook.harness_register_challenges.get_hookimpls():
            paths = _call(impl, "harness_register_challenges")
            for path in paths or ():
                path = Path(path)
                if not path.is_file():
                    raise PluginError(
                        f"plugin {impl.plugin_name!r} registers challenge file "
                        f"{str(path)!r}, which does not exist"
                    )
                self.challenge_files.append((path, impl.plugin_name))

    def _gather(
        self, caller: pluggy.HookCaller, registry: Registry[Any], kind: type
    ) -> None:
        for impl in reversed(caller.get_hookimpls()):
            result = _call(impl, caller.name)
            if result is None:
                continue
            if not isinstance(result, (list, tuple)):
                raise PluginError(
                    f"plugin {impl.plugin_name!r}: {caller.name}() returned "
                    f"{type(result).__name__}, expected a list of {kind.__name__}"
                )
            for item in result:
                if not isinstance(item, kind):
                    raise PluginError(
                        f"plugin {impl.plugin_name!r}: {caller.name}() returned "
                        f"a {type(item).__name__}, expected {kind.__name__}"
                    )
                name = getattr(item, "name", None)
                if not isinstance(name, str) or not name:
                    raise PluginError(
                        f"plugin {impl.plugin_name!r}: a {kind.__name__} from "
                        f"{caller.name}() has no name"
                    )
                registry.add(name, item, impl.plugin_name)

    # -- queries ---------------------------------------------------------------

    def version_of(self, plugin_name: str) -> str:
        for info in self.infos:
            if info.name == plugin_name:
                return info.version
        return "unknown"

    def default_sandbox(self) -> SandboxPlugin:
        """Return the available sandbox with the highest priority."""
        ranked = sorted(
            (s for _, s in self.sandboxes.items()), key=lambda s: -s.priority
        )
        reasons = []
        for sandbox in ranked:
            status = sandbox.availability()
            if status.ok:
                return sandbox
            reasons.append(f"{sandbox.name}: {status.reason}")
        from harness.errors import SandboxUnavailableError

        raise SandboxUnavailableError(
            "no sandbox can run here: " + ("; ".join(reasons) or "none registered")
        )

    # -- notifications -----------------------------------------------------------

    def notify_run_started(self, record: Any) -> None:
        self.pm.hook.harness_run_started(record=record)

    def notify_run_finished(self, record: Any) -> None:
        self.pm.hook.harness_run_finished(record=record)


def _call(impl: pluggy.HookImpl, hook_name: str) -> Any:
    try:
        return impl.function()
    except Exception as exc:
        raise PluginError(
            f"plugin {impl.plugin_name!r} raised {type(exc).__name__} in "
            f"{hook_name}(): {exc}"
        ) from exc


def _entry_points() -> list[metadata.EntryPoint]:
    points = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    seen: dict[str, metadata.EntryPoint] = {}
    for ep in points:
        # An editable install can list the same distribution twice.
        seen.setdefault(ep.name, ep)
    return sorted(
        seen.values(),
        key=lambda ep: (_distribution(ep) != BUILTIN_DISTRIBUTION, ep.name),
    )


def _distribution(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.name if dist is not None else "unknown"


def _hook_names() -> list[str]:
    return [name for name in dir(hookspecs) if name.startswith("harness_")]


def _blocked_from_env() -> set[str]:
    raw = os.environ.get(BLOCK_ENV, "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def load_plugins(
    *,
    block: Iterable[str] = (),
    extra: Iterable[tuple[str, ModuleType | object]] = (),
    entry_points: bool = True,
    trace: Callable[[str], None] | None = None,
) -> Plugins:
    """Discover, register and collect every plugin.

    :param block: plugin names (entry-point names) not to load; names in the
        ``HARNESS_BLOCK_PLUGINS`` environment variable (comma-separated) are
        blocked too.
    :param extra: ``(name, module_or_object)`` pairs registered after the
        entry points, for tests and embedding.
    :param entry_points: set ``False`` to load only ``extra``.
    :param trace: called with one line per hook call, for debugging.
    :raises PluginError: a plugin failed to import, implements an unknown
        hook, raised in a registration hook, or clashed with another.
    """
    extra = list(extra)
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    blocked = set(block) | _blocked_from_env()
    infos: list[PluginInfo] = []

    def register(name: str, plugin: object, info: PluginInfo) -> None:
        try:
            pm.register(plugin, name=name)
        except ValueError as exc:
            raise PluginError(f"plugin {name!r} cannot be registered: {exc}") from exc
        infos.append(info)

    if entry_points:
        for ep in _entry_points():
            if ep.name in blocked:
                log.info("plugin %s blocked", ep.name)
                pm.set_blocked(ep.name)
                continue
            try:
                module = ep.load()
            except Exception as exc:
                raise PluginError(
                    f"plugin {ep.name!r} ({ep.value}) failed to import: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            dist = _distribution(ep)
            version = ep.dist.version if ep.dist is not None else "unknown"
            info = PluginInfo(
                name=ep.name,
                module=ep.value,
                distribution=dist,
                version=getattr(module, "__version__", version),
                builtin=dist == BUILTIN_DISTRIBUTION,
            )
            register(ep.name, module, info)
    for name, obj in extra:
        if name in blocked:
            continue
        info = PluginInfo(
            name=name,
            module=getattr(obj, "__name__", type(obj).__name__),
            distribution="(registered in process)",
            version=str(getattr(obj, "__version__", "unknown")),
            builtin=False,
        )
        register(name, obj, info)
    known = {ep.name for ep in _entry_points()} | {name for name, _ in extra}
    for name in sorted(blocked - known):
        log.warning(
            "asked to block plugin %r, but no plugin has that name%s",
            name,
            did_you_mean(name, known),
        )
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        name = pm.get_name(exc.plugin) or repr(exc.plugin)
        unknown = [
            hook
            for hook in pm.hook.__dict__.values()
            if isinstance(hook, pluggy.HookCaller)
            and not hook.has_spec()
            and any(impl.plugin is exc.plugin for impl in hook.get_hookimpls())
        ]
        hooks = ", ".join(h.name for h in unknown) or "a hook"
        hint = did_you_mean(unknown[0].name, _hook_names()) if unknown else ""
        raise PluginError(
            f"plugin {name!r} implements {hooks}, which is not a harness hook." + hint
        ) from exc
    if trace is not None:
        pm.trace.root.setwriter(trace)
        pm.enable_tracing()
    plugins = Plugins(pm, infos)
    plugins._collect()
    return plugins
