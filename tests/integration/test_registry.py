import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from raygate.errors import (
    RegistryError,
    RollbackError,
    UnknownAliasError,
    UnknownModelError,
    UnknownVersionError,
)


@pytest.fixture
def three_versions(registry, built_v1, model_name):
    for _ in range(3):
        registry.register(model_name, built_v1.model_uri, built_v1.tags)
    return model_name


def test_register_keeps_the_build_tags(registry, built_v1, model_name):
    version = registry.register(model_name, built_v1.model_uri, built_v1.tags)
    assert version.version == 1 and version.model_id == f"{model_name}@1"
    assert registry.get_version(model_name, 1).tags == built_v1.tags


def test_set_and_resolve_aliases(registry, three_versions):
    registry.set_alias(three_versions, "champion", 2)
    registry.set_alias(three_versions, "candidate", 3)
    assert registry.aliases(three_versions) == {"candidate": 3, "champion": 2}
    assert registry.resolve(three_versions, "champion").version == 2
    assert [v.aliases for v in registry.list_versions(three_versions)] == [
        (),
        ("champion",),
        ("candidate",),
    ]


def test_setting_the_same_version_again_changes_nothing(registry, three_versions):
    registry.set_alias(three_versions, "champion", 1)
    assert registry.set_alias(three_versions, "champion", 1).action == "noop"
    assert len(registry.alias_history(three_versions, "champion")) == 1


def test_history_and_idempotent_rollback(registry, three_versions):
    name = three_versions
    registry.set_alias(name, "champion", 1, reason="first release")
    registry.set_alias(name, "champion", 3, reason="promote v3")
    change = registry.rollback(name, "champion", reason="canary failed")
    assert (change.action, change.previous, change.version) == ("rollback", 3, 1)
    assert registry.resolve(name, "champion").version == 1
    again = registry.rollback(name, "champion")
    assert again.action == "noop" and registry.resolve(name, "champion").version == 1
    history = registry.alias_history(name, "champion")
    assert [(e.version, e.previous, e.action) for e in history] == [
        (1, None, "set"), (3, 1, "set"), (1, 3, "rollback"),
    ]  # fmt: skip
    assert history[-1].reason == "canary failed"


def test_rollback_refuses_an_alias_moved_outside_raygate(registry, three_versions):
    registry.set_alias(three_versions, "champion", 1)
    registry.set_alias(three_versions, "champion", 2)
    MlflowClient().set_registered_model_alias(three_versions, "champion", "3")
    with pytest.raises(RollbackError, match="changed outside raygate"):
        registry.rollback(three_versions, "champion")
    assert registry.resolve(three_versions, "champion").version == 3


def test_unknown_alias_lists_the_aliases_that_exist(registry, three_versions):
    registry.set_alias(three_versions, "champion", 2)
    with pytest.raises(UnknownAliasError, match=r"no alias 'canary' \(aliases: champion→v2\)"):
        registry.resolve(three_versions, "canary")


def test_unknown_model_and_version(registry, three_versions):
    with pytest.raises(
        UnknownModelError,
        match=r"no registered model named 'nope' in the registry at sqlite:///.*mlflow.db "
        r"\(registered: .*MLFLOW_TRACKING_URI",
    ):
        registry.aliases("nope")
    with pytest.raises(UnknownVersionError, match="has no version 7; versions: v1, v2, v3"):
        registry.set_alias(three_versions, "champion", 7)
    assert registry.aliases(three_versions) == {}


def test_a_failed_history_write_puts_the_alias_back(registry, three_versions, monkeypatch):
    registry.set_alias(three_versions, "champion", 1)

    def broken(*args, **kwargs):
        raise MlflowException("store unavailable")

    monkeypatch.setattr(registry._client, "set_registered_model_tag", broken)
    with pytest.raises(RegistryError, match="alias restored"):
        registry.set_alias(three_versions, "champion", 2)
    assert registry.aliases(three_versions) == {"champion": 1}
    assert len(registry.alias_history(three_versions, "champion")) == 1


def test_model_uris_name_versions_as_mlflow_reads_them_and_a_bare_name_is_told_how(
    registry, three_versions
):
    from raygate.errors import ModelLoadError
    from raygate.packaging.loading import model_info, resolve_model_uri

    registry.set_alias(three_versions, "champion", 2)
    resolved = {
        uri: resolve_model_uri(uri, registry).version
        for uri in (f"models:/{three_versions}/latest", f"models:/{three_versions}@champion",
                    f"models:/{three_versions}/1")
    }  # fmt: skip
    assert list(resolved.values()) == [3, 2, 1]
    with pytest.raises(ModelLoadError, match=rf"'{three_versions}' is a registered model: pass "
                                             rf"models:/{three_versions}@ALIAS"):  # fmt: skip
        model_info(three_versions)
    with pytest.raises(ModelLoadError, match="pass models:/NAME@ALIAS, models:/NAME/VERSION"):
        model_info("no-such-model-or-folder")


def test_registry_list_names_every_model_with_its_newest_version_and_aliases(
    registry, three_versions
):
    import json

    from typer.testing import CliRunner

    from raygate.cli.main import app

    registry.set_alias(three_versions, "champion", 2)
    MlflowClient().create_registered_model("m-registered-without-versions")
    listed = {m.name: m for m in registry.list_models()}
    assert listed[three_versions].latest_version == 3
    assert listed[three_versions].aliases == {"champion": 2}
    assert listed["m-registered-without-versions"].latest_version is None
    shown = CliRunner().invoke(app, ["registry", "list", "--json"])
    assert shown.exit_code == 0, shown.output
    entry = next(m for m in json.loads(shown.stdout) if m["name"] == three_versions)
    assert entry == {"name": three_versions, "latest_version": 3, "aliases": {"champion": 2}}
    table = CliRunner().invoke(app, ["registry", "list"])
    assert "champion → v2" in table.stdout


def test_commands_started_together_on_a_new_store_all_set_it_up(tmp_path):
    """MLflow creates a SQLite store's tables on first use; four processes doing it at once
    raced (tracebacks: 'table … already exists', alembic's 'expected to match one row')."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    raygate = str(Path(sys.executable).parent / "raygate")
    env = {**os.environ, "RAYGATE_HOME": str(tmp_path / "new-home")}
    env.pop("MLFLOW_TRACKING_URI", None)
    started = [subprocess.Popen([raygate, "registry", "list", "--json"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(4)]  # fmt: skip
    for process in started:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr[-2000:]
        assert stdout.strip() == "[]"
