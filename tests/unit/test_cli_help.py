import json
import time

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from raygate import __version__
from raygate.cli.main import app

runner = CliRunner()


def _commands(command, path=()):
    """Every command and group of the app, from the app itself (none can be forgotten)."""
    yield list(path)
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(get_command(app)))


def test_the_help_test_sees_every_command():
    assert ["canary", "plan"] in COMMANDS and ["serve", "weight"] in COMMANDS


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "raygate")
def test_every_command_has_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_help_paragraphs_flow_instead_of_keeping_the_docstrings_line_breaks():
    """A docstring is wrapped at 100 columns in the source; the terminal wraps it again at
    its own width, so a kept line break leaves a ragged line ("Latency is" alone)."""
    result = runner.invoke(app, ["eval", "--help"], env={"COLUMNS": "200"})
    assert "Latency is measured by the eval for any model" in result.output


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


def test_an_error_quoting_brackets_is_printed_as_text_not_markup():
    """Ray's and HAProxy's messages quote `[/path/file.cfg:50]`: rich would read that as a
    closing tag and raise, turning a one-line error into a traceback."""
    import typer

    from raygate.cli.output import handles_errors
    from raygate.errors import ServeError

    @handles_errors
    def failing() -> None:
        raise ServeError("Serve refused the config: [/tmp/haproxy.cfg:50] cannot bind [bold]")

    cli = typer.Typer(add_completion=False)
    cli.command()(failing)
    result = CliRunner().invoke(cli, [])
    assert result.exit_code == 2, result.output
    assert "[/tmp/haproxy.cfg:50] cannot bind [bold]" in result.output
    assert "Traceback" not in result.output


def test_ctrl_c_is_one_line_saying_what_was_left_and_exit_130():
    import typer

    from raygate.cli.output import handles_errors

    @handles_errors
    def long(left: str = "") -> None:
        raise KeyboardInterrupt(left) if left else KeyboardInterrupt

    cli = typer.Typer(add_completion=False)
    cli.command()(long)
    said = CliRunner().invoke(cli, ["--left", "run r1 is marked KILLED [in MLflow]"])
    assert said.exit_code == 130 and "Traceback" not in said.output
    assert said.stderr.strip() == "interrupted: run r1 is marked KILLED [in MLflow]"
    bare = CliRunner().invoke(cli, [])
    assert bare.exit_code == 130 and bare.stderr.strip() == (
        "interrupted: stopped before it finished"
    )


def test_sigterm_stops_a_command_as_ctrl_c_does_with_exit_143_even_after_ray_init():
    """Kubernetes, systemd and `kill` stop with SIGTERM; Ray's driver exits on it at once
    (what was left unsaid, an eval's run left RUNNING, a load test's figures lost)."""
    import os
    import signal

    import typer

    from raygate.cli.output import handles_errors
    from raygate.cluster import commands_sigterm_kept

    @handles_errors
    def long() -> None:
        try:
            with commands_sigterm_kept():
                signal.signal(signal.SIGTERM, lambda *_: os._exit(15))  # as ray.init does
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        except KeyboardInterrupt:
            raise KeyboardInterrupt("the release stays resumable") from None

    cli = typer.Typer(add_completion=False)
    cli.command()(long)
    before = signal.getsignal(signal.SIGTERM)
    stopped = CliRunner().invoke(cli, [])
    assert stopped.exit_code == 143, stopped.output
    assert stopped.stderr.strip() == "interrupted: the release stays resumable"
    assert signal.getsignal(signal.SIGTERM) is before  # the handler lasts as long as the command


def test_a_demo_stopped_by_ctrl_c_says_where_its_store_stays(monkeypatch, tmp_path):
    import raygate.demo

    def interrupted(home, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(raygate.demo, "run_demo", interrupted)
    monkeypatch.setenv("RAYGATE_HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 130, result.output
    assert "shut down its Ray and Serve" in result.stderr and str(tmp_path) in result.stderr


def test_json_stdout_is_one_document_whatever_else_prints_meanwhile():
    """Ray's driver prints the cluster's warnings to sys.stdout from its own thread (with
    log_to_driver=False too), and a user's model may print while it loads."""
    import threading

    import typer

    from raygate.cli.output import JSON_OPTION, emit_json, handles_errors

    @handles_errors
    def noisy(as_json: bool = JSON_OPTION) -> None:
        print("model: loading weights")
        warner = threading.Thread(target=print, args=("(raylet) 8 PYTHON workers started",))
        warner.start()
        warner.join()
        if as_json:
            emit_json({"ok": True})

    cli = typer.Typer(add_completion=False)
    cli.command()(noisy)
    result = CliRunner().invoke(cli, ["--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"ok": True}
    assert "loading weights" in result.stderr and "(raylet)" in result.stderr
    plain = CliRunner().invoke(cli, [])  # without --json stdout is the human's, as before
    assert "loading weights" in plain.stdout and "(raylet)" in plain.stdout


def test_json_stdout_has_no_nan_or_infinity_which_json_parsers_refuse(capsys):
    from raygate.cli.output import emit_json

    emit_json({"ratio": float("inf"), "figures": [float("nan"), 1.5], "n": {"low": -float("inf")}})
    document = json.loads(capsys.readouterr().out, parse_constant=pytest.fail)
    assert document == {"ratio": None, "figures": [None, 1.5], "n": {"low": None}}


def test_a_bad_input_map_is_one_error_line_before_any_work(tmp_path):
    result = runner.invoke(app, ["release", "--name", "m", "--model-uri", "models:/m/1",
                                 "--input-map", "question"])  # fmt: skip
    assert result.exit_code == 2 and "error: --input-map wants INPUT=FIELD" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_question_in_another_encoding_than_utf8_is_one_error_before_any_work():
    """Python decodes argv bytes that are not UTF-8 to lone surrogates; the model then failed
    on them and the error blamed it."""
    latin1 = b"caf\xe9 hours?".decode("utf-8", "surrogateescape")
    result = runner.invoke(app, ["predict", "models:/nowhere/1", "hi", latin1, "--input",
                                 f"ctx={latin1}"])  # fmt: skip
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert "error: QUERY 2, --input ctx are not UTF-8 text" in result.stderr


def test_a_release_file_carries_its_input_map(tmp_path):
    from raygate.errors import ConfigError
    from raygate.release import load_release_config

    path = tmp_path / "release.yaml"
    path.write_text("name: m\nmodel_uri: models:/m/1\ninput_map: {context: category}\n")
    assert load_release_config(path).input_map == {"context": "category"}
    path.write_text("name: m\nmodel_uri: models:/m/1\ninput_map: [context]\n")
    with pytest.raises(ConfigError, match="input_map"):
        load_release_config(path)


def test_a_release_file_sizes_its_eval_like_raygate_eval_does(tmp_path):
    from raygate.errors import ConfigError
    from raygate.evaluation.pipeline import PipelineOptions
    from raygate.release import EvalResources, load_release_config

    assert PipelineOptions(**EvalResources().model_dump()) == PipelineOptions()  # same defaults
    path = tmp_path / "release.yaml"
    path.write_text("name: m\nmodel_uri: models:/m/1\neval: {workers: 1, num_gpus: 1}\n")
    resources = load_release_config(path).eval
    assert (resources.workers, resources.num_cpus, resources.num_gpus) == (1, 1.0, 1.0)
    path.write_text("name: m\nmodel_uri: models:/m/1\neval: {gpus: 1}\n")
    with pytest.raises(ConfigError, match=r"eval\.gpus"):
        load_release_config(path)


def test_flags_given_with_a_release_file_override_its_fields(tmp_path):

    from raygate.errors import ConfigError
    from raygate.release import release_config

    path = tmp_path / "release.yaml"
    path.write_text("name: m\nmodel_uri: models:/m@candidate\ngold: big\n"
                    "input_map: {context: category}\neval: {num_gpus: 1}\n")  # fmt: skip
    unset = {"name": None, "model_uri": None, "gold": None, "input_map": None}
    assert release_config(path, unset) == release_config(path, {})
    spec = release_config(path, unset | {"model_uri": "models:/m/7", "input_map": {"q": "query"}})
    assert spec.model_uri == "models:/m/7" and spec.gold == "big"  # the file's, not a default
    assert spec.input_map == {"context": "category", "q": "query"} and spec.eval.num_gpus == 1
    alone = release_config(None, unset | {"name": "m", "model_uri": "models:/m/1"})
    assert alone.gold == "smoke" and alone.gates is None  # ./policies/, else the built-in
    with pytest.raises(ConfigError, match="--name NAME and --model-uri URI"):
        release_config(None, unset | {"name": "m"})
    with pytest.raises(ConfigError, match=r"release\.yaml with the flags given: .*name"):
        release_config(path, {"name": ""})


def test_an_mlflow_server_nobody_answers_at_is_one_error_at_once(monkeypatch):
    """MLflow's client retries a refused connection for about four minutes, then prints a
    traceback."""
    from raygate.testing import free_port

    address = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", address)
    result = runner.invoke(app, ["registry", "show", "any-model"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"cannot reach the MLflow server at {address} (connection refused)" in result.stderr


def test_a_database_store_nobody_answers_at_or_without_its_driver_is_one_error(monkeypatch):
    """A PostgreSQL store: MLflow's engine retried a refused connection for minutes, and a
    missing driver was a ModuleNotFoundError traceback."""
    import importlib.util
    import socket

    from raygate.testing import free_port

    closed = f"postgresql://raygate:secret@127.0.0.1:{free_port()}/mlflow"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", closed)
    result = runner.invoke(app, ["registry", "list"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "cannot reach the database of the store postgresql://127.0.0.1:" in result.stderr
    assert "secret" not in result.output
    if importlib.util.find_spec("psycopg") is not None:
        return  # with the driver, the listener below would be asked to speak PostgreSQL
    with socket.create_server(("127.0.0.1", 0)) as listening:  # something answers there
        port = listening.getsockname()[1]
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"postgresql://u:p@127.0.0.1:{port}/mlflow")
        result = runner.invoke(app, ["registry", "list"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "needs the database driver 'psycopg'" in result.stderr
    assert "pip install 'psycopg[binary]'" in result.stderr


def test_a_store_that_refuses_requests_is_one_error_line(monkeypatch):
    """A server (or the auth proxy in front of it) that answers 403 to everything."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Forbidden(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(403)
            self.end_headers()
            self.wfile.write(b"forbidden: no token")

        do_POST = do_GET

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Forbidden)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{server.server_port}")
        result = runner.invoke(app, ["registry", "show", "any-model"])
    finally:
        server.shutdown()
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.startswith("error: MLflow: ") and "403" in result.stderr
    assert "MLFLOW_TRACKING_TOKEN" in result.stderr


@pytest.mark.parametrize(
    "command",
    [["canary", "start", "m"], ["promote", "m"], ["rollback", "m"],
     ["release", "--name", "m", "--model-uri", "models:/m/1"]],
    ids=lambda c: c[0],
)  # fmt: skip
def test_a_release_s_serving_changes_wait_as_long_as_wait_says(command, monkeypatch):
    """A model that loads slowly needs longer than the default: the error of a change not
    applied in time says to pass a longer --wait, so each release command takes one."""
    from raygate import release_runtime
    from raygate.errors import ServeError

    asked = {}

    def runtime(address, note=None, wait_s=300.0, **kwargs):
        asked["wait_s"] = wait_s
        raise ServeError("stop here")

    monkeypatch.setattr(release_runtime, "runtime", runtime)
    result = runner.invoke(app, [*command, "--wait", "900"])
    assert result.exit_code == 2 and asked == {"wait_s": 900}, result.output
