"""Test layout markers: tests/integration is `integration`; tests/gpu is `gpu` and is skipped
unless an NVIDIA GPU is present (its vLLM tests also skip where vLLM is not installed)."""

import shutil
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
GPU_MISSING = None
if not shutil.which("nvidia-smi"):
    GPU_MISSING = "needs an NVIDIA GPU"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parents = Path(item.fspath).parents
        if TESTS / "integration" in parents:
            item.add_marker(pytest.mark.integration)
        if TESTS / "gpu" in parents:
            item.add_marker(pytest.mark.gpu)
            if GPU_MISSING:
                item.add_marker(pytest.mark.skip(reason=GPU_MISSING))
