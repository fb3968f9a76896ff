"""The connector registry, keyed by kind, filled from the ``aiguilleur.connectors`` entry points."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from aiguilleur.connectors.base import ConnectorInfo

GROUP = "aiguilleur.connectors"


class Registry:
    """Kinds of connector known to this installation."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Any]] = {}

    def register(self, cls: type[Any]) -> type[Any]:
        """Add a connector class; refuses a second class for the same kind."""
        info: ConnectorInfo = cls.info
        known = self._classes.get(info.kind)
        if known is not None and known is not cls:
            raise ValueError(f"connector kind {info.kind!r} registered twice: {known} and {cls}")
        self._classes[info.kind] = cls
        return cls

    def load_entry_points(self) -> Registry:
        """Register every installed entry point; an ImportError surfaces (a packaging bug)."""
        for ep in entry_points(group=GROUP):
            cls = ep.load()
            if cls.info.kind != ep.name:
                raise ValueError(f"entry point {ep.name!r} declares kind {cls.info.kind!r}")
            self.register(cls)
        return self

    def kinds(self) -> list[str]:
        return sorted(self._classes)

    def get(self, kind: str) -> type[Any] | None:
        return self._classes.get(kind)

    def info(self, kind: str) -> ConnectorInfo | None:
        cls = self._classes.get(kind)
        return None if cls is None else cls.info


_default: Registry | None = None


def default_registry() -> Registry:
    """The process-wide registry, loaded once from the installed entry points."""
    global _default
    if _default is None:
        _default = Registry().load_entry_points()
    return _default
