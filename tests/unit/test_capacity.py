"""What an actor ask needs from a node, and whether an autoscaler could add a node for it
(read from the cluster config Ray's autoscaler keeps; a real protobuf, no cluster)."""

from __future__ import annotations

import pytest
from ray.core.generated import autoscaler_pb2

from raygate import capacity
from raygate.capacity import ActorAsk

GPU_ACTOR = ActorAsk("eval actor", 2, 1.0, 1.0, "--workers", "--num-cpus or --num-gpus")


def test_an_ask_fits_a_node_with_enough_of_each_resource():
    assert GPU_ACTOR.fits({"CPU": 8.0, "GPU": 1.0})
    assert not GPU_ACTOR.fits({"CPU": 8.0}) and not GPU_ACTOR.fits({"CPU": 0.5, "GPU": 4.0})
    assert GPU_ACTOR.describe() == "2 eval actor(s) of 1 CPU and 1 GPU each"
    assert GPU_ACTOR.hint == "lower --workers, --num-cpus or --num-gpus"


def _cluster_config(*groups: tuple[dict[str, float], int]) -> autoscaler_pb2.ClusterConfig:
    config = autoscaler_pb2.ClusterConfig()
    for resources, max_count in groups:
        group = config.node_group_configs.add()
        group.resources.update(resources)
        group.max_count = max_count
    return config


@pytest.mark.parametrize(
    ("config", "could_add"),
    [
        (None, False),  # no autoscaler: nothing will ever join
        (_cluster_config(({"CPU": 8}, 10)), False),  # it adds CPU nodes only
        (_cluster_config(({"CPU": 8}, 10), ({"CPU": 8, "GPU": 1}, 4)), True),
        (_cluster_config(({"CPU": 8, "GPU": 1}, -1)), True),  # -1: no upper bound
        (_cluster_config(({"CPU": 8, "GPU": 1}, 0)), False),  # a GPU type it may not start
    ],
)
def test_an_autoscaler_counts_only_with_a_node_type_that_fits(monkeypatch, config, could_add):
    from ray._private.state import state

    monkeypatch.setattr(state, "get_cluster_config", lambda: config)
    assert capacity._autoscaler_could_add(GPU_ACTOR) is could_add
