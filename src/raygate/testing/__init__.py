"""Fakes shipped with raygate for tests of code built on it (a scripted generator)."""

from raygate.testing.scripted import ScriptedGenerator

__all__ = ["ScriptedGenerator"]
