import pytest
from typer.testing import CliRunner

from raygate import __version__
from raygate.cli.main import app

runner = CliRunner()

COMMANDS = [
    [],
    ["agent"],
    ["agent", "build"],
    ["predict"],
    ["registry"],
    ["registry", "show"],
    ["registry", "alias"],
    ["registry", "rollback"],
    ["goldset", "show"],
    ["canary"],
    ["canary", "replay"],
    ["canary", "plan"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "raygate")
def test_every_command_has_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_commands_that_print_data_offer_json():
    for command in (
        ["agent", "build"], ["predict"], ["registry", "show"], ["goldset", "show"],
        ["canary", "replay"], ["canary", "plan"],
    ):  # fmt: skip
        assert "--json" in runner.invoke(app, [*command, "--help"]).output


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"raygate {__version__}"


def test_alias_without_register_is_a_usage_error():
    result = runner.invoke(app, ["agent", "build", "agents/v1.yaml", "--alias", "champion"])
    assert result.exit_code == 2 and "--alias needs --register NAME" in result.output
