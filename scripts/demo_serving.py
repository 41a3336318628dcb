"""The serving half of `make tour`: a local Ray (started and stopped here) serving champion
and candidate from the registry, probed with curl-like requests, a canary weight change and a
short load test, each step through the `raygate` CLI as a user would type it."""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import yaml

from raygate.testing import free_port

ROOT = Path(__file__).resolve().parents[1]
RAYGATE = str(Path(sys.executable).with_name("raygate"))


def step(*args: str, env: dict[str, str]) -> None:
    print(f"\n$ raygate {' '.join(args)}", flush=True)
    subprocess.run([RAYGATE, *args], env=env, check=True)


def main() -> None:
    import ray
    from ray import serve

    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="raygate-demo-") as tmp:
        tokens = Path(tmp) / "tokens"
        tokens.write_text(token + "\n")
        os.environ["RAYGATE_API_TOKENS_FILE"] = str(tokens)
        context = ray.init(num_cpus=4, include_dashboard=True, dashboard_port=free_port(),
                           logging_level="ERROR")  # fmt: skip
        port = free_port()
        config = yaml.safe_load((ROOT / "serve_configs" / "canary.yaml").read_text())
        config["http_options"]["port"] = port
        config_file = Path(tmp) / "canary.yaml"
        config_file.write_text(yaml.safe_dump(config))
        env = {
            **os.environ,
            "RAY_DASHBOARD_ADDRESS": f"http://{context.dashboard_url}",
            "RAY_ADDRESS": context.address_info["gcs_address"],
            "RAYGATE_API_TOKEN": token,
        }
        try:
            step("serve", "up", str(config_file), env=env)
            url = f"http://127.0.0.1:{port}"
            headers = {"Authorization": f"Bearer {token}"}
            for user in ("alice", "bob", "carol"):
                body = {"query": "What is the return window for Kitchen products?", "user_id": user}
                answer = requests.post(f"{url}/v1/predict", json=body, headers=headers,
                                       timeout=30).json()  # fmt: skip
                print(f"  {user}: {answer['answer']!r} from {answer['variant']} "
                      f"({answer['model_id']}) · trace {answer['trace_id']}")  # fmt: skip
            time.sleep(6)  # the replicas export their spans every few seconds
            step("trace", "show", answer["trace_id"], env={**env, "COLUMNS": "150"})
            step("serve", "weight", "20", env=env)  # returns once every router replica has it
            step("loadtest", url, "--rate", "20", "--duration", "5", "--workload", "smoke",
                 "--slo", "error_rate=0.05", env=env)  # fmt: skip
            step("serve", "down", env=env)
        finally:
            logging.getLogger("ray.serve").setLevel(logging.WARNING)  # "nothing to shut down"
            serve.shutdown()
            ray.shutdown()


if __name__ == "__main__":
    main()
