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
    monkeypatch.setattr(cluster, "_stopped_ray_start", lambda: None)
    return calls


def test_an_empty_ray_address_starts_a_local_ray(monkeypatch, ray_init):
    monkeypatch.setenv("RAY_ADDRESS", "")
    cluster.ensure_ray()
    assert ray_init[0]["address"] is None
    import os

    assert "RAY_ADDRESS" not in os.environ  # Ray would read the empty value itself


@pytest.fixture
def listening() -> str:
    """An address something accepts connections at (Ray's join is what fails there)."""
    import socket

    server = socket.create_server(("127.0.0.1", 0))
    yield f"127.0.0.1:{server.getsockname()[1]}"
    server.close()


def test_a_cluster_that_cannot_be_joined_is_one_clear_error(monkeypatch, listening):
    import ray

    def refuse(**kwargs):
        raise ConnectionError("Could not find any running Ray instance")

    monkeypatch.setenv("RAY_ADDRESS", listening)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", refuse)
    with pytest.raises(ClusterError, match=r"Could not find any.*unset RAY_ADDRESS to run on a"):
        cluster.ensure_ray()


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_an_address_nothing_listens_at_is_refused_before_ray_retries_it(monkeypatch, scheme):
    """Ray's own join retries a dead GCS address for about ten minutes."""
    import ray

    from raygate.testing import free_port

    def must_not_run(**kwargs):
        raise AssertionError("ray.init was called for an address nothing listens at")

    address = f"{scheme}127.0.0.1:{free_port()}"
    monkeypatch.setenv("RAY_ADDRESS", address)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", must_not_run)
    with pytest.raises(ClusterError, match=r"nothing accepts a connection at 127\.0\.0\.1:\d+ "
                                           r"\(Connection refused\); start it"):  # fmt: skip
        cluster.ensure_ray()


def test_a_refused_join_without_a_token_says_how_to_send_one(monkeypatch, listening):
    import ray

    def refuse(**kwargs):
        raise ConnectionError(f"Failed to connect to Ray cluster at {listening}")

    monkeypatch.setenv("RAY_ADDRESS", listening)
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", refuse)
    with pytest.raises(ClusterError, match="RAY_AUTH_MODE=token and RAY_AUTH_TOKEN"):
        cluster.ensure_ray()


def test_the_in_cluster_judge_refuses_a_cluster_that_serves_nothing(monkeypatch):
    import ray

    class Context:
        gcs_address = "10.0.0.9:6379"

    def no_actor(name, namespace=None):
        raise ValueError(f"Failed to look up actor with name '{name}'")

    monkeypatch.setattr(ray, "get_actor", no_actor)
    monkeypatch.setattr(ray, "get_runtime_context", Context)
    with pytest.raises(ClusterError, match=r"\(10.0.0.9:6379\) runs no Serve app.*RAY_ADDRESS"):
        cluster.require_serve()
    monkeypatch.setattr(ray, "get_actor", lambda name, namespace=None: object())
    cluster.require_serve()  # a cluster with Serve: no error


def test_a_stopped_ray_start_is_not_retried_for_minutes(monkeypatch, ray_init):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(cluster, "_stopped_ray_start", lambda: "10.0.0.9:6379")
    cluster.ensure_ray()  # a command that may run anywhere starts its own
    assert ray_init[0]["address"] == "local"
    monkeypatch.setattr(cluster, "_running_clusters", frozenset)
    with pytest.raises(ClusterError, match=r"0 Ray clusters run here \(none\) and the last `ray"):
        cluster.join_running_cluster()  # the judge must join the serving cluster, not a new one
    assert len(ray_init) == 1
    monkeypatch.setattr(cluster, "_running_clusters", lambda: frozenset({"10.0.0.5:6380"}))
    cluster.join_running_cluster()  # the one that runs, as Ray's "auto" means
    assert ray_init[1]["address"] == "10.0.0.5:6380"


def test_free_ports_are_outside_the_ephemeral_range_and_never_handed_out_twice():
    """A port the OS hands to a bind to port 0 is free only until its next such bind: a
    CI run's Ray dashboard lost the port a test had picked so."""
    import socket

    from raygate.testing import ports

    low, high = ports._ephemeral_range()
    picked = [ports.free_port() for _ in range(50)]
    assert len(set(picked)) == 50
    for port in picked:
        assert not low <= port <= high and port not in ports.RAY_DEFAULT_PORTS
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_free_ports_are_never_those_ray_takes_or_something_listens_on(monkeypatch):
    import socket

    from raygate.testing import ports

    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        taken = listening.getsockname()[1]
        offered = iter([8265, taken, 23456])
        monkeypatch.setattr(ports._random, "choice", lambda candidates: next(offered))
        monkeypatch.setattr(ports, "_handed_out", set())
        assert ports.free_port() == 23456
