"""ModelRegistry on the MLflow Model Registry; MLflow errors become raygate errors here."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from raygate.constants import TAG_ALIAS_HISTORY_PREFIX
from raygate.errors import (
    RegistryError,
    UnknownAliasError,
    UnknownModelError,
    UnknownVersionError,
)
from raygate.registry.history import (
    HistoryEntry,
    decode_history,
    encode_history,
)
from raygate.registry.protocol import AliasMoves, ModelVersion, RegisteredModel
from raygate.tracking import configure_mlflow, without_credentials

_NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _alias_map(model) -> dict[str, int]:
    """A registered model's aliases → versions, by alias."""
    return {alias: int(version) for alias, version in sorted(model.aliases.items())}


@contextlib.contextmanager
def _mlflow_errors(action: str) -> Iterator[None]:
    try:
        yield
    except MlflowException as exc:
        raise RegistryError(f"{action} failed: {exc.message}") from None


class MlflowRegistry(AliasMoves):
    """The MLflow registry at raygate's tracking URI (see raygate.tracking)."""

    def __init__(self, clock: Callable[[], str] = _utc_now) -> None:
        uri = configure_mlflow()
        self._client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        self.store = without_credentials(uri)  # the store's URI, safe to print
        self._clock = clock

    def register(self, name: str, model_uri: str, tags: Mapping[str, str]) -> ModelVersion:
        import mlflow

        with _mlflow_errors(f"registering {model_uri} as '{name}'"):
            created = mlflow.register_model(model_uri, name, tags=dict(tags))
        return self.get_version(name, int(created.version))

    def get_version(self, name: str, version: int) -> ModelVersion:
        self._require_model(name)
        try:
            mv = self._client.get_model_version(name, str(version))
        except MlflowException as exc:
            if exc.error_code != _NOT_FOUND:
                raise RegistryError(f"reading {name}@{version} failed: {exc.message}") from None
            known = ", ".join(f"v{v.version}" for v in self.list_versions(name)) or "none"
            raise UnknownVersionError(
                f"model '{name}' has no version {version}; versions: {known}"
            ) from None
        return self._to_version(mv, mv.aliases)

    def list_models(self) -> list[RegisteredModel]:
        """Every registered model in the store, by name."""
        found, token = [], None
        with _mlflow_errors("listing registered models"):
            while True:
                page = self._client.search_registered_models(max_results=1000, page_token=token)
                found += page
                if not (token := page.token):
                    break
            return sorted((RegisteredModel(m.name, self._newest_version(m), _alias_map(m))
                           for m in found), key=lambda m: m.name)  # fmt: skip

    def _newest_version(self, model) -> int | None:
        """The newest version of a search result: the highest of its `latest_versions` (one
        a stage, so the newest overall is among them), else asked of the store (one query a
        model, where a store leaves them out)."""
        versions = [int(v.version) for v in model.latest_versions or []]
        return max(versions) if versions else self._latest_version(model.name)

    def _latest_version(self, name: str) -> int | None:
        newest = self._client.search_model_versions(
            f"name = '{name}'", max_results=1, order_by=["version_number DESC"]
        )
        return int(newest[0].version) if newest else None

    def list_versions(self, name: str) -> list[ModelVersion]:
        self._require_model(name)
        with _mlflow_errors(f"listing versions of '{name}'"):
            found = self._client.search_model_versions(f"name = '{name}'")
        # Search results carry no aliases; the registered model's alias map is authoritative.
        by_version: dict[int, list[str]] = {}
        for alias, version in self.aliases(name).items():
            by_version.setdefault(version, []).append(alias)
        versions = [self._to_version(mv, by_version.get(int(mv.version), [])) for mv in found]
        return sorted(versions, key=lambda v: v.version)

    def tag_version(self, name: str, version: int, tags: Mapping[str, str]) -> None:
        self.get_version(name, version)
        with _mlflow_errors(f"tagging {name}@{version}"):
            for key, value in tags.items():
                self._client.set_model_version_tag(name, str(version), key, value)

    def aliases(self, name: str) -> dict[str, int]:
        return _alias_map(self._require_model(name))

    def resolve(self, name: str, alias: str) -> ModelVersion:
        aliases = self.aliases(name)
        if alias not in aliases:
            known = ", ".join(f"{a}→v{v}" for a, v in aliases.items()) or "none"
            raise UnknownAliasError(
                f"model '{name}' has no alias '{alias}' (aliases: {known}); set one with "
                f"`raygate registry alias {name} {alias} VERSION`"
            )
        return self.get_version(name, aliases[alias])

    def alias_history(self, name: str, alias: str) -> list[HistoryEntry]:
        model = self._require_model(name)
        return decode_history(model.tags.get(TAG_ALIAS_HISTORY_PREFIX + alias))

    def _move(self, name: str, alias: str, entry: HistoryEntry) -> None:
        """Point the alias and record the move; if recording fails, the alias is put back."""
        history = self.alias_history(name, alias)
        with _mlflow_errors(f"setting alias '{alias}' of '{name}' to v{entry.version}"):
            self._client.set_registered_model_alias(name, alias, str(entry.version))
        try:
            value = encode_history([*history, entry])
            self._client.set_registered_model_tag(name, TAG_ALIAS_HISTORY_PREFIX + alias, value)
        except MlflowException as exc:
            with _mlflow_errors(f"restoring alias '{alias}' of '{name}'"):
                if entry.previous is None:
                    self._client.delete_registered_model_alias(name, alias)
                else:
                    self._client.set_registered_model_alias(name, alias, str(entry.previous))
            raise RegistryError(
                f"recording alias history failed, alias restored: {exc.message}"
            ) from None

    def _require_model(self, name: str):
        try:
            return self._client.get_registered_model(name)
        except MlflowException as exc:
            if exc.error_code != _NOT_FOUND:
                raise RegistryError(f"reading model '{name}' failed: {exc.message}") from None
            with _mlflow_errors("listing registered models"):
                names = [m.name for m in self._client.search_registered_models(max_results=20)]
            raise UnknownModelError(
                f"no registered model named '{name}' in the registry at {self.store} "
                f"(registered: {', '.join(names) or 'none'}); point MLFLOW_TRACKING_URI at the "
                f"store that holds it, or build and register one with "
                f"`raygate agent build CONFIG --register {name}`"
            ) from None

    @staticmethod
    def _to_version(mv, aliases) -> ModelVersion:
        return ModelVersion(
            name=mv.name,
            version=int(mv.version),
            source=mv.source,
            run_id=mv.run_id or None,
            tags=dict(mv.tags),
            aliases=tuple(sorted(aliases)),
        )
