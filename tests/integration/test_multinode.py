"""Several nodes, simulated: a 2-node Ray cluster on this machine (one node advertises a GPU)
driven by the same `raygate` commands through RAY_ADDRESS: eval actors land where their
resource request fits, serving replicas spread over both nodes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DRIVER = Path(__file__).with_name("multinode_driver.py")


def test_eval_actors_follow_their_gpu_request_and_replicas_spread_over_two_nodes():
    done = subprocess.run([sys.executable, str(DRIVER)], capture_output=True, text=True,
                          timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["nodes"] == 2 and result["eval_rows"] == 6
    assert result["eval_actor_nodes"] == [result["gpu_node"]]  # only that node has a GPU
    assert len(set(result["champion_replica_nodes"])) == 2  # one replica on each node
    assert result["answer_status"] == 200
