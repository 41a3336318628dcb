"""Record a real canary on this machine: build a champion and a candidate agent into a fresh
MLflow store, serve both on a local Ray (canary at --share %), send open-loop load through
the router and write every answer as a per-request record for `raygate canary replay`.

Usage: python scripts/record_canary.py [--champion agents/v1.yaml] [--candidate
agents/v3.yaml] [--share 50] [--rate 20] [--duration 120] [--out canary-observations.jsonl]
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from raygate.testing import free_port

ROOT = Path(__file__).resolve().parents[1]
RAYGATE = str(Path(sys.executable).with_name("raygate"))


def step(*args: str, env: dict[str, str]) -> None:
    print(f"\n$ raygate {' '.join(args)}", flush=True)
    subprocess.run([RAYGATE, *args], env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--champion", default=str(ROOT / "agents" / "v1.yaml"))
    parser.add_argument("--candidate", default=str(ROOT / "agents" / "v3.yaml"))
    parser.add_argument("--share", type=float, default=50.0, help="canary share, in %")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load")
    parser.add_argument("--out", type=Path, default=Path("canary-observations.jsonl"))
    args = parser.parse_args()

    import ray
    from ray import serve

    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="raygate-record-") as tmp:
        tokens = Path(tmp) / "tokens"
        tokens.write_text(token + "\n")
        os.environ["RAYGATE_API_TOKENS_FILE"] = str(tokens)
        env = {**os.environ, "RAYGATE_HOME": str(Path(tmp) / "home"), "RAYGATE_API_TOKEN": token}
        step("agent", "build", args.champion, "--register", "reference-agent", "--alias",
             "champion", env=env)  # fmt: skip
        step("agent", "build", args.candidate, "--register", "reference-agent", "--alias",
             "candidate", env=env)  # fmt: skip
        os.environ["RAYGATE_HOME"] = env["RAYGATE_HOME"]  # the replicas load from this store
        context = ray.init(num_cpus=4, include_dashboard=True, dashboard_port=free_port(),
                           logging_level="ERROR")  # fmt: skip
        port = free_port()
        config = yaml.safe_load((ROOT / "serve_configs" / "canary.yaml").read_text())
        config["http_options"]["port"] = port
        for deployment in config["applications"][0]["deployments"]:
            if deployment["name"] == "router":
                deployment["user_config"]["canary_percent"] = args.share
        config_file = Path(tmp) / "canary.yaml"
        config_file.write_text(yaml.safe_dump(config))
        env = {  # ray.init puts its auth settings in os.environ: the CLI needs them
            **os.environ,
            "RAYGATE_API_TOKEN": token,
            "RAY_DASHBOARD_ADDRESS": f"http://{context.dashboard_url}",
            "RAY_ADDRESS": context.address_info["gcs_address"],
        }
        try:
            step("serve", "up", str(config_file), env=env)
            step("loadtest", f"http://127.0.0.1:{port}", "--rate", f"{args.rate:g}",
                 "--duration", f"{args.duration:g}", "--workload", "dev", "--users", "2000",
                 "--observations", str(args.out.resolve()), env=env)  # fmt: skip
            step("serve", "down", env=env)
        finally:
            logging.getLogger("ray.serve").setLevel(logging.WARNING)
            serve.shutdown()
            ray.shutdown()
    print(f"\nrecorded: {args.out}  →  raygate canary replay {args.out}", flush=True)


if __name__ == "__main__":
    main()
