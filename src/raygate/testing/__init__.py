"""Helpers shipped with raygate for tests of code built on it: a scripted generator, and a
free local port for servers that tests, benchmarks and the demo start."""

from raygate.testing.ports import free_port
from raygate.testing.scripted import ScriptedGenerator

__all__ = ["ScriptedGenerator", "free_port"]
