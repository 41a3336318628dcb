"""The registry protocol: what every stage may ask of a model registry, and its value types."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from raygate.constants import ALIAS_CANDIDATE, ALIAS_CHAMPION
from raygate.errors import RegistryError
from raygate.registry.history import HistoryEntry, rollback_target

_ALIAS = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_VERSION_LIKE = re.compile(r"^v\d+$", re.IGNORECASE)


def check_alias(alias: str) -> str:
    """The alias, or a RegistryError saying why MLflow would refuse it (checked before any
    version is registered, so a bad alias leaves nothing behind)."""
    if alias.lower() == "latest":
        raise RegistryError("alias 'latest' is reserved by MLflow; pick another, e.g. champion")
    if _VERSION_LIKE.match(alias):
        raise RegistryError(
            f"alias {alias!r} looks like a version number, which MLflow reserves; pick a name "
            "such as champion or candidate"
        )
    if not _ALIAS.match(alias):
        raise RegistryError(f"alias {alias!r} is not valid: use 1-255 letters, digits, '_' or '-'")
    if alias != alias.lower() and alias.lower() in (ALIAS_CHAMPION, ALIAS_CANDIDATE):
        raise RegistryError(
            f"alias {alias!r} is not {alias.lower()!r}: MLflow's aliases are case-sensitive, so "
            "it would be a new alias that no serve config or release reads; write "
            f"{alias.lower()}"
        )
    return alias


@dataclass(frozen=True)
class ModelVersion:
    """One registered version, with its tags and the aliases pointing at it."""

    name: str
    version: int
    source: str
    run_id: str | None
    tags: dict[str, str] = field(hash=False)
    aliases: tuple[str, ...] = ()

    @property
    def model_id(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


@dataclass(frozen=True)
class RegisteredModel:
    """One registered model: its name, its newest version and where its aliases point."""

    name: str
    latest_version: int | None  # None: registered with no version yet
    aliases: dict[str, int] = field(hash=False)


@dataclass(frozen=True)
class AliasChange:
    """What an alias operation did; `noop` when the alias already pointed there."""

    name: str
    alias: str
    version: int
    previous: int | None
    action: Literal["set", "rollback", "noop"]


class ModelRegistry(Protocol):
    """Versions, tags and aliases of registered models; aliases route traffic."""

    def register(self, name: str, model_uri: str, tags: Mapping[str, str]) -> ModelVersion: ...

    def get_version(self, name: str, version: int) -> ModelVersion: ...

    def list_versions(self, name: str) -> list[ModelVersion]: ...

    def tag_version(self, name: str, version: int, tags: Mapping[str, str]) -> None: ...

    def aliases(self, name: str) -> dict[str, int]: ...

    def resolve(self, name: str, alias: str) -> ModelVersion: ...

    def alias_history(self, name: str, alias: str) -> list[HistoryEntry]: ...

    def set_alias(self, name: str, alias: str, version: int, reason: str = "") -> AliasChange: ...

    def rollback(self, name: str, alias: str, reason: str = "") -> AliasChange: ...


class AliasMoves:
    """set_alias and rollback for any registry, planned the same way everywhere (no-op when
    already there, rollback by raygate's own history): a registry supplies get_version,
    aliases, alias_history, `_clock()` and one `_move` that points the alias and records it."""

    def set_alias(self, name: str, alias: str, version: int, reason: str = "") -> AliasChange:
        check_alias(alias)
        self.get_version(name, version)
        current = self.aliases(name).get(alias)
        if current == version:
            return AliasChange(name, alias, version, current, "noop")
        self._move(name, alias, HistoryEntry(version, current, "set", self._clock(), reason))
        return AliasChange(name, alias, version, current, "set")

    def rollback(self, name: str, alias: str, reason: str = "") -> AliasChange:
        current = self.aliases(name).get(alias)
        target = rollback_target(alias, current, self.alias_history(name, alias))
        if target is None:
            return AliasChange(name, alias, current, current, "noop")
        self.get_version(name, target)
        self._move(name, alias, HistoryEntry(target, current, "rollback", self._clock(), reason))
        return AliasChange(name, alias, target, current, "rollback")
