"""What the driver scripts (multinode_driver, haproxy_driver) share: running `raygate` as a
user would, in a subprocess, failing with its stderr's tail."""

from __future__ import annotations

import subprocess
import sys


def raygate(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "raygate.cli.main", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"raygate {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done
