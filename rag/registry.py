"""One checked registry mapping config names to plugin classes for every pluggable stage."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ragpoison.rag.errors import InputError
from ragpoison.rag.plugin import Plugin

if TYPE_CHECKING:
    from ragpoison.poisoning.attacks.base import Attack
    from ragpoison.poisoning.defenses.base import Defense
    from ragpoison.poisoning.traceback.base import Tracer
    from ragpoison.rag.embedders.base import Embedder
    from ragpoison.rag.generators.base import Generator
    from ragpoison.rag.retrievers.base import Retriever
    from ragpoison.rag.stores.base import VectorStore

BaseT = TypeVar("BaseT", bound=Plugin)
PluginT = TypeVar("PluginT", bound=Plugin)


class Registry(Generic[BaseT]):
    """Name-to-class map for one plugin kind; checks the base class and refuses duplicate names.

    The base class is named by its import path (``module:Class``) and imported on first use, so that the
    registry module does not import every stage's base.
    """

    def __init__(self, kind: str, base: str, packages: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self._base_path = base
        self._packages = packages
        self._classes: dict[str, type[BaseT]] = {}
        self._loaded = False

    @property
    def base(self) -> type[BaseT]:
        """The base class every plugin of this kind must subclass."""
        module, _, name = self._base_path.partition(":")
        base: type[BaseT] = getattr(importlib.import_module(module), name)
        return base

    def register(self, name: str) -> Callable[[type[PluginT]], type[PluginT]]:
        """Class decorator registering a plugin under ``name``."""

        def decorate(cls: type[PluginT]) -> type[PluginT]:
            plugin = cls  # narrowed to the registry's base below; ``cls`` keeps the decorated class's own type
            if not isinstance(plugin, type) or not issubclass(plugin, self.base):
                raise TypeError(f"{cls!r} is not a subclass of {self.base.__name__}")
            if name in self._classes and self._classes[name] is not plugin:
                raise ValueError(f"duplicate {self.kind} name {name!r}")
            plugin.name = name
            self._classes[name] = plugin
            return cls

        return decorate

    def _load_builtins(self) -> None:
        # Every module of a plugin package registers itself on import; plugin modules import their heavy
        # backends lazily, so loading them all stays cheap.
        if not self._loaded:
            self._loaded = True
            for package in self._packages:
                for module in builtin_modules(package):
                    importlib.import_module(module)

    def get(self, name: str, *, key: str | None = None) -> type[BaseT]:
        """Return the class registered as ``name`` or raise an InputError naming the config key."""
        self._load_builtins()
        try:
            return self._classes[name]
        except KeyError:
            known = ", ".join(sorted(self._classes))
            raise InputError(f"unknown {self.kind} {name!r} (known: {known})",
                             field=key or self.kind) from None

    def names(self) -> list[str]:
        """All registered names, sorted."""
        self._load_builtins()
        return sorted(self._classes)

    def describe(self) -> dict[str, str]:
        """Map each name to the first line of its class docstring."""
        return {name: first_line(self._classes[name].__doc__) for name in self.names()}

    def create(self, name: str, params: dict[str, Any] | None = None, *, key: str | None = None,
               **context: Any) -> BaseT:
        """Instantiate a plugin, validating ``params`` against its ``Params`` model."""
        cls = self.get(name, key=key)
        return cls(cls.parse_params(params or {}, key=key or f"{self.kind}.{name}"), **context)


def builtin_modules(package: str) -> list[str]:
    """Modules of a plugin package, except its base and private modules, sorted by name."""
    root = importlib.import_module(package)
    return sorted(f"{package}.{info.name}" for info in pkgutil.iter_modules(root.__path__)
                  if info.name != "base" and not info.name.startswith("_"))


def first_line(doc: str | None) -> str:
    """First non-empty line of a docstring."""
    for line in (doc or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


EMBEDDERS: Registry[Embedder] = Registry(
    "embedder", "ragpoison.rag.embedders.base:Embedder", ("ragpoison.rag.embedders",))
STORES: Registry[VectorStore] = Registry(
    "store", "ragpoison.rag.stores.base:VectorStore", ("ragpoison.rag.stores",))
RETRIEVERS: Registry[Retriever] = Registry(
    "retriever", "ragpoison.rag.retrievers.base:Retriever", ("ragpoison.rag.retrievers",))
GENERATORS: Registry[Generator] = Registry(
    "generator", "ragpoison.rag.generators.base:Generator", ("ragpoison.rag.generators",))
ATTACKS: Registry[Attack] = Registry(
    "attack", "ragpoison.poisoning.attacks.base:Attack", ("ragpoison.poisoning.attacks",))
DEFENSES: Registry[Defense] = Registry(
    "defense", "ragpoison.poisoning.defenses.base:Defense", ("ragpoison.poisoning.defenses",))

TRACEBACKS: Registry[Tracer] = Registry(
    "traceback", "ragpoison.poisoning.traceback.base:Tracer", ("ragpoison.poisoning.traceback",))

REGISTRIES: dict[str, Registry[Any]] = {
    r.kind: r for r in (EMBEDDERS, STORES, RETRIEVERS, GENERATORS, ATTACKS, DEFENSES, TRACEBACKS)}
