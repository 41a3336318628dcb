"""Bearer-token auth for the API: tokens from the environment, a secrets file or Vault,
compared in constant time; a token's id (a hash prefix, never the token) keys its rate limit."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from raygate.errors import ConfigError
from raygate.secrets import FILE_SUFFIX, VAULT_SUFFIX, read_vault

ENV_TOKENS = "RAYGATE_API_TOKENS"
ENV_TOKENS_FILE = ENV_TOKENS + FILE_SUFFIX
ENV_TOKENS_VAULT = ENV_TOKENS + VAULT_SUFFIX


def load_tokens(environ: dict[str, str] | None = None) -> tuple[str, ...]:
    """Tokens from $RAYGATE_API_TOKENS (comma-separated), the file in
    $RAYGATE_API_TOKENS_FILE (one per line, '#' comments) and the Vault secret field named by
    $RAYGATE_API_TOKENS_VAULT (`MOUNT/PATH#FIELD`, comma-separated), all that are set."""
    environ = dict(os.environ) if environ is None else environ
    tokens = [t.strip() for t in environ.get(ENV_TOKENS, "").split(",")]
    path = environ.get(ENV_TOKENS_FILE)
    if path:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read {ENV_TOKENS_FILE}={path}: {exc.strerror}") from None
        tokens += [line.strip() for line in lines if not line.lstrip().startswith("#")]
    if environ.get(ENV_TOKENS_VAULT):
        stored = read_vault(ENV_TOKENS_VAULT, environ[ENV_TOKENS_VAULT], environ)
        tokens += [t.strip() for t in stored.split(",")]
    return tuple(t for t in tokens if t)


def token_id(token: str) -> str:
    """A short, non-reversible name for a token (logs and rate-limit keys)."""
    return "tok-" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:12]


def authenticate(authorization: str | None, tokens: tuple[str, ...]) -> str | None:
    """The token id when `Authorization: Bearer <token>` names a known token, else None."""
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return None
    candidate = presented.strip().encode("utf-8")
    matched = None
    for token in tokens:  # compare against every token: timing does not reveal which matched
        if hmac.compare_digest(candidate, token.encode("utf-8")):
            matched = token
    return token_id(matched) if matched else None
