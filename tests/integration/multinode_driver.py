"""Driver of test_multinode: a 2-node Ray cluster on this machine (the worker advertises one
GPU), the same `raygate` commands pointed at it through RAY_ADDRESS and
RAY_DASHBOARD_ADDRESS; prints one JSON object of what landed where. Run as a script: the
pytest process has its own local Ray already."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import requests
import yaml
from cli_driver import raygate, register_v1  # beside this script, which runs as one

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    import ray
    from ray.cluster_utils import Cluster
    from ray.util.state import list_actors

    from raygate.serving.control import ServeControl
    from raygate.testing import free_port
    from raygate.testing.serve_configs import small_app_config

    home = Path(tempfile.mkdtemp(prefix="raygate-multinode-"))
    os.environ["RAYGATE_HOME"] = str(home)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    register_v1("multinode-agent")
    gold = home / "gold.jsonl"
    gold.write_text(
        "".join(
            line + "\n"
            for line in (ROOT / "src" / "raygate" / "goldset" / "data" / "smoke.jsonl")
            .read_text()
            .splitlines()[:6]
        )
    )

    dashboard_port = free_port()
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 2, "include_dashboard": True, "dashboard_host": "127.0.0.1",
        "dashboard_port": dashboard_port})  # fmt: skip
    gpu_node = cluster.add_node(num_cpus=2, num_gpus=1)
    ray.init(address=cluster.address, logging_level="ERROR")
    env = {**os.environ, "RAY_ADDRESS": cluster.address,
           "RAY_DASHBOARD_ADDRESS": f"http://127.0.0.1:{dashboard_port}"}  # fmt: skip
    result: dict = {"nodes": len([n for n in ray.nodes() if n["Alive"]]),
                    "gpu_node": gpu_node.node_id}  # fmt: skip
    try:
        evaluated = raygate("eval", "models:/multinode-agent@champion", "--gold", str(gold),
                            "--workers", "1", "--num-gpus", "1", "--json", env=env)  # fmt: skip
        result["eval_rows"] = json.loads(evaluated.stdout)["metrics"]["rows"]
        eval_actor = ("class_name", "=", "MapWorker(MapBatches(PredictAndScore))")
        workers = list_actors(filters=[eval_actor], detail=True, raise_on_missing_output=False)
        result["eval_actor_nodes"] = sorted({a.node_id for a in workers})

        port = free_port()
        config = small_app_config(
            yaml.safe_load((ROOT / "serve_configs" / "canary.yaml").read_text()),
            "multinode-agent", port, router={"auth": False}, replicas={"champion": 2},
            model_options={"max_replicas_per_node": 1, "ray_actor_options": {"num_cpus": 0.25}},
        )  # fmt: skip
        serve_file = home / "serve.yaml"
        serve_file.write_text(yaml.safe_dump(config))
        raygate("serve", "up", str(serve_file), "--wait", "300", "--json", env=env)
        details = ServeControl(env["RAY_DASHBOARD_ADDRESS"]).details()
        deployments = next(iter(details["applications"].values()))["deployments"]
        result["champion_replica_nodes"] = sorted(
            r["node_id"] for r in deployments["champion"]["replicas"])  # fmt: skip
        answer = requests.post(
            f"http://127.0.0.1:{port}/v1/predict",
            timeout=60,
            json={"query": "What is the return window for Kitchen products?"},
        )
        result["answer_status"] = answer.status_code
        raygate("serve", "down", env=env)
    finally:
        ray.shutdown()
        cluster.shutdown()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
