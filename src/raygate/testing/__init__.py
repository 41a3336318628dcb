"""Helpers shipped with raygate for tests of code built on it: a scripted generator, a free
local port for servers that tests, benchmarks and the demo start, and in-memory fakes of the
release playbook's protocols (raygate.testing.fakes, imported on demand)."""

from raygate.testing.ports import free_port
from raygate.testing.scripted import ScriptedGenerator

__all__ = ["ScriptedGenerator", "free_port"]
