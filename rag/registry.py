"""One checked registry mapping config names to plugin classes for every pluggable stage."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from ragpoison.rag.errors import InputError


class Registry:
    """Name-to-class map for one plugin kind; checks the base class and refuses duplicate names."""

    def __init__(self, kind: str, base: str, packages: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self._base_path = base
        self._packages = packages
        self._classes: dict[str, type] = {}
        self._loaded = False

    @property
    def base(self) -> type:
        """The base class every plugin of this kind must subclass."""
        module, _, name = self._base_path.partition(":")
        return getattr(importlib.import_module(module), name)

    def register(self, name: str):
        """Class decorator registering a plugin under ``name``."""

        def decorate(cls: type) -> type:
            if not isinstance(cls, type) or not issubclass(cls, self.base):
                raise TypeError(f"{cls!r} is not a subclass of {self.base.__name__}")
            if name in self._classes and self._classes[name] is not cls:
                raise ValueError(f"duplicate {self.kind} name {name!r}")
            cls.name = name
            self._classes[name] = cls
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

    def get(self, name: str, *, key: str | None = None) -> type:
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
               **context: Any) -> Any:
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


EMBEDDERS = Registry("embedder", "ragpoison.rag.embedders.base:Embedder", ("ragpoison.rag.embedders",))
STORES = Registry("store", "ragpoison.rag.stores.base:VectorStore", ("ragpoison.rag.stores",))
RETRIEVERS = Registry("retriever", "ragpoison.rag.retrievers.base:Retriever", ("ragpoison.rag.retrievers",))
GENERATORS = Registry("generator", "ragpoison.rag.generators.base:Generator", ("ragpoison.rag.generators",))
ATTACKS = Registry("attack", "ragpoison.poisoning.attacks.base:Attack", ("ragpoison.poisoning.attacks",))
DEFENSES = Registry("defense", "ragpoison.poisoning.defenses.base:Defense", ("ragpoison.poisoning.defenses",))

REGISTRIES = {r.kind: r for r in (EMBEDDERS, STORES, RETRIEVERS, GENERATORS, ATTACKS, DEFENSES)}
