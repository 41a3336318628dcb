"""Secrets from the environment, a file or Vault; errors that name the source, never the value.

No Vault server can be installed here (neither PyPI nor Debian ships one), so the Vault tests
run hvac, over real HTTP on 127.0.0.1, against a stand-in that answers Vault's KV read
endpoints (`GET /v1/MOUNT/data/PATH` for version 2, `GET /v1/MOUNT/PATH` for version 1) the
way Vault's API documents them, token check included."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from raygate.errors import ConfigError
from raygate.secrets import get_secret
from raygate.serving.auth import load_tokens
from raygate.testing import http_server, send_json

VAULT_TOKEN = "hvs.stand-in-token"
STORED = {
    "/v1/secret/data/raygate": {"data": {"data": {"api_token": "tok-from-vault",
                                                   "tokens": "a-one, b-two"},
                                          "metadata": {"version": 3}}},
    "/v1/kv1/raygate": {"data": {"api_token": "tok-from-kv1"}},
}  # fmt: skip


class _VaultStandIn(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.headers.get("X-Vault-Token") != VAULT_TOKEN:
            return send_json(self, 403, {"errors": ["permission denied"]})
        path = self.path.split("?")[0]
        if path in STORED:
            return send_json(self, 200, STORED[path])
        return send_json(self, 404, {"errors": []})

    def log_message(self, *args) -> None:
        return


@pytest.fixture(scope="module")
def vault() -> Iterator[str]:
    with http_server(_VaultStandIn) as url:
        yield url


def test_the_environment_comes_first_then_a_file_then_nothing(tmp_path):
    path = tmp_path / "key"
    path.write_text("from-file\n")
    assert get_secret("KEY", {"KEY": "from-env", "KEY_FILE": str(path)}) == "from-env"
    assert get_secret("KEY", {"KEY_FILE": str(path)}) == "from-file"
    assert get_secret("KEY", {}) is None


def test_an_unreadable_or_empty_file_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot read KEY_FILE=.*missing"):
        get_secret("KEY", {"KEY_FILE": str(tmp_path / "missing")})
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match=r"KEY_FILE=.* is empty"):
        get_secret("KEY", {"KEY_FILE": str(tmp_path / "empty")})


def test_vault_kv2_and_kv1_fields_are_read_over_http(vault):
    env = {"VAULT_ADDR": vault, "VAULT_TOKEN": VAULT_TOKEN}
    assert get_secret("KEY", env | {"KEY_VAULT": "secret/raygate#api_token"}) == "tok-from-vault"
    assert get_secret("KEY", env | {"KEY_VAULT": "kv1/raygate#api_token"}) == "tok-from-kv1"


def test_vault_token_from_a_file(vault, tmp_path):
    token = tmp_path / "vault-token"
    token.write_text(VAULT_TOKEN + "\n")
    env = {"VAULT_ADDR": vault, "VAULT_TOKEN_FILE": str(token),
           "KEY_VAULT": "secret/raygate#api_token"}  # fmt: skip
    assert get_secret("KEY", env) == "tok-from-vault"


@pytest.mark.parametrize(
    ("reference", "token", "says"),
    [
        ("secret/raygate#api_token", "wrong", "permission denied"),
        ("secret/nowhere#api_token", VAULT_TOKEN, "no such secret"),
        ("secret/raygate#missing", VAULT_TOKEN, r"no field 'missing' \(fields: api_token, tok"),
        ("secret-raygate", VAULT_TOKEN, "write MOUNT/PATH#FIELD"),
    ],
)  # fmt: skip
def test_vault_errors_say_what_is_wrong_and_never_show_a_value(vault, reference, token, says):
    env = {"VAULT_ADDR": vault, "VAULT_TOKEN": token, "KEY_VAULT": reference}
    with pytest.raises(ConfigError, match=says) as caught:
        get_secret("KEY", env)
    assert "KEY_VAULT" in str(caught.value)
    assert not any(v in str(caught.value) for v in ("tok-from-vault", "a-one", VAULT_TOKEN))


def test_vault_without_an_address_or_token_is_refused():
    with pytest.raises(ConfigError, match="also set VAULT_ADDR and VAULT_TOKEN"):
        get_secret("KEY", {"KEY_VAULT": "secret/raygate#api_token"})


def test_an_unreachable_vault_is_one_clear_error():
    env = {"VAULT_ADDR": "http://127.0.0.1:9", "VAULT_TOKEN": VAULT_TOKEN,
           "KEY_VAULT": "secret/raygate#api_token"}  # fmt: skip
    with pytest.raises(ConfigError, match=r"Vault at http://127\.0\.0\.1:9.*ConnectionError"):
        get_secret("KEY", env)


def test_api_tokens_join_from_every_source(vault, tmp_path):
    path = tmp_path / "tokens"
    path.write_text("# one per line\nc-three\n")
    env = {"RAYGATE_API_TOKENS": "d-four", "RAYGATE_API_TOKENS_FILE": str(path),
           "RAYGATE_API_TOKENS_VAULT": "secret/raygate#tokens", "VAULT_ADDR": vault,
           "VAULT_TOKEN": VAULT_TOKEN}  # fmt: skip
    assert sorted(load_tokens(env)) == ["a-one", "b-two", "c-three", "d-four"]


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        (
            "postgresql://raygate:s3cr3t@db.internal:5432/mlflow",
            "postgresql://db.internal:5432/mlflow",
        ),
        ("https://alice:tok@mlflow.example.com/", "https://mlflow.example.com/"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("sqlite:////tmp/x/mlflow.db", "sqlite:////tmp/x/mlflow.db"),
        ("databricks", "databricks"),
    ],
)
def test_a_store_named_in_a_message_carries_no_credentials(uri, shown):
    from raygate.tracking import without_credentials

    assert without_credentials(uri) == shown
