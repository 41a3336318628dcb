"""Helpers shipped with raygate for tests of code built on it: a scripted generator, a free
local port, an HTTP server on one and a JSON answer for its handlers (servers that tests,
benchmarks and the demo start),
and in-memory fakes of the release playbook's protocols (raygate.testing.fakes, imported on
demand)."""

from raygate.testing.ports import free_port, http_server, send_json
from raygate.testing.scripted import ScriptedGenerator

__all__ = ["ScriptedGenerator", "free_port", "http_server", "send_json"]
