"""The policies a command reads when none is named: the project's ./policies/, else the copies
raygate ships (so an installed raygate runs from any directory)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from raygate.canary.policy import load_rollout_policy
from raygate.cli.main import app
from raygate.gates.policy import load_policy
from raygate.policy_files import BUILTIN_DIR, policy_file

REPO = Path(__file__).resolve().parents[2]


def test_the_built_in_policies_are_the_repository_s_own():
    """The shipped copies may not drift from policies/, which the README documents."""
    for kind in ("gates", "rollout"):
        shipped = (BUILTIN_DIR / f"{kind}.yaml").read_text()
        assert shipped == (REPO / "policies" / f"{kind}.yaml").read_text(), kind


def test_outside_a_project_the_built_in_policies_are_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert policy_file(None, "gates") == BUILTIN_DIR / "gates.yaml"
    assert load_policy() == load_policy(REPO / "policies" / "gates.yaml")
    assert load_rollout_policy() == load_rollout_policy(REPO / "policies" / "rollout.yaml")
    planned = CliRunner().invoke(app, ["canary", "plan", "--rps", "20", "--share", "5%",
                                       "--simulations", "10", "--json"])  # fmt: skip
    assert planned.exit_code == 0, planned.output


def test_a_project_s_own_policies_win_and_a_named_file_wins_over_both(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "gates.yaml").write_text("absolute: {quality_min: 0.8}\n")
    assert load_policy().absolute.quality_min == 0.8
    named = tmp_path / "strict.yaml"
    named.write_text("absolute: {quality_min: 0.95}\n")
    assert load_policy(named).absolute.quality_min == 0.95
    assert policy_file(None, "rollout") == BUILTIN_DIR / "rollout.yaml"  # gates only here
