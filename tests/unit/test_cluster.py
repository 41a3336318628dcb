"""How raygate's commands join Ray: an empty RAY_ADDRESS means a local Ray, as Ray reads it."""

import pytest

from raygate import cluster
from raygate.errors import ClusterError


@pytest.fixture
def ray_init(monkeypatch):
    import ray

    calls = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kwargs: calls.append(kwargs))
    return calls


def test_an_empty_ray_address_starts_a_local_ray(monkeypatch, ray_init):
    monkeypatch.setenv("RAY_ADDRESS", "")
    cluster.ensure_ray()
    assert ray_init[0]["address"] is None
    import os

    assert "RAY_ADDRESS" not in os.environ  # Ray would read the empty value itself


def test_a_cluster_that_cannot_be_joined_is_one_clear_error(monkeypatch):
    import ray

    def refuse(**kwargs):
        raise ConnectionError("Could not find any running Ray instance")

    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.9:6379")
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", refuse)
    with pytest.raises(ClusterError, match="unset RAY_ADDRESS to run on a local Ray"):
        cluster.ensure_ray()
