"""Secrets by name, never from configs: the environment variable NAME, else the file named by
NAME_FILE (Docker and Kubernetes secret mounts), else HashiCorp Vault when NAME_VAULT names a
KV secret as `MOUNT/PATH#FIELD` (VAULT_ADDR and VAULT_TOKEN, or VAULT_TOKEN_FILE; the optional
`raygate[vault]` extra). Errors name the variable and the source, never the value."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from raygate.errors import ConfigError

FILE_SUFFIX = "_FILE"
VAULT_SUFFIX = "_VAULT"
VAULT_TIMEOUT_S = 10.0


def get_secret(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The secret `name` from the first source that is set, or None when none is."""
    environ = os.environ if environ is None else environ
    if environ.get(name):
        return environ[name]
    if environ.get(name + FILE_SUFFIX):
        return _read_file(name + FILE_SUFFIX, environ[name + FILE_SUFFIX])
    if environ.get(name + VAULT_SUFFIX):
        return read_vault(name + VAULT_SUFFIX, environ[name + VAULT_SUFFIX], environ)
    return None


def secret_sources(name: str) -> str:
    """How a user can provide `name`, for error messages."""
    return f"${name}, a file named by ${name}{FILE_SUFFIX}, or Vault via ${name}{VAULT_SUFFIX}"


def _read_file(variable: str, path: str) -> str:
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read {variable}={path}: {exc.strerror}") from None
    if not value:
        raise ConfigError(f"{variable}={path} is empty")
    return value


def read_vault(variable: str, reference: str, environ: Mapping[str, str]) -> str:
    """A field of a Vault KV secret (version 2, else version 1), e.g. `secret/raygate#token`."""
    path, _, field = reference.partition("#")
    mount, _, secret_path = path.strip("/").partition("/")
    if not (mount and secret_path and field):
        raise ConfigError(
            f"{variable}={reference!r}: write MOUNT/PATH#FIELD, e.g. secret/raygate#api_token"
        )
    address = environ.get("VAULT_ADDR")
    token = environ.get("VAULT_TOKEN") or (
        _read_file("VAULT_TOKEN_FILE", environ["VAULT_TOKEN_FILE"])
        if environ.get("VAULT_TOKEN_FILE")
        else None
    )
    if not address or not token:
        raise ConfigError(f"{variable} is set: also set VAULT_ADDR and VAULT_TOKEN (or _FILE)")
    try:
        import hvac
        import hvac.exceptions
        import requests
    except ImportError:
        raise ConfigError(
            f"{variable} needs the Vault client: pip install 'raygate[vault]'"
        ) from None
    client = hvac.Client(url=address, token=token, timeout=VAULT_TIMEOUT_S)
    where = f"{variable}: Vault at {address}, secret {mount}/{secret_path}"
    try:
        try:
            data = client.secrets.kv.v2.read_secret_version(
                path=secret_path, mount_point=mount, raise_on_deleted_version=True
            )["data"]["data"]
        except hvac.exceptions.InvalidPath:  # not a version-2 mount: try version 1
            data = client.secrets.kv.v1.read_secret(path=secret_path, mount_point=mount)["data"]
    except hvac.exceptions.Forbidden:
        raise ConfigError(f"{where}: permission denied (check VAULT_TOKEN's policy)") from None
    except hvac.exceptions.InvalidPath:
        raise ConfigError(f"{where}: no such secret") from None
    except (hvac.exceptions.VaultError, requests.RequestException) as exc:
        raise ConfigError(f"{where}: {type(exc).__name__}") from None
    value = data.get(field)
    if not isinstance(value, str) or not value:
        fields = ", ".join(sorted(data)) or "none"
        raise ConfigError(f"{where} has no field {field!r} (fields: {fields})")
    return value
