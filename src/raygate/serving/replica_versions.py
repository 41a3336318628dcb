"""Which version each model replica serves: every replica writes what it loaded into Ray's
internal key-value store under its own replica id (Serve's handles reach some replica, never
each one); `raygate serve status` reads the entries of the replicas Serve reports alive."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

NAMESPACE = "raygate"


def _key(app: str, deployment: str, replica_id: str) -> str:
    return f"replica/{app}/{deployment}/{replica_id}"


def publish(info: dict[str, Any]) -> None:
    """Called in a replica: record what it serves now (overwrites its previous entry)."""
    from ray import serve
    from ray.experimental.internal_kv import _internal_kv_put

    context = serve.get_replica_context()
    key = _key(context.app_name, context.deployment, context.replica_id.unique_id)
    _internal_kv_put(key, json.dumps(info | {"updated_at": time.time()}), namespace=NAMESPACE)


def forget() -> None:
    """Called in a replica shutting down: its entry goes with it."""
    from ray import serve
    from ray.experimental.internal_kv import _internal_kv_del

    context = serve.get_replica_context()
    _internal_kv_del(
        _key(context.app_name, context.deployment, context.replica_id.unique_id),
        namespace=NAMESPACE,
    )


def read(app: str, replica_ids: dict[str, list[str]]) -> dict[str, dict[str, Any] | None]:
    """The entry of each live replica (deployment → its replica ids), None where a replica has
    written none yet (still loading its first model). Needs a connection to the cluster."""
    from ray.experimental.internal_kv import _internal_kv_get

    entries: dict[str, dict[str, Any] | None] = {}
    for deployment, ids in replica_ids.items():
        for replica_id in ids:
            raw = _internal_kv_get(_key(app, deployment, replica_id), namespace=NAMESPACE)
            entries[replica_id] = json.loads(raw) if raw else None
    return entries


def mixed_versions(entries: list[dict[str, Any] | None]) -> str | None:
    """A warning when the replicas of one variant serve different versions, else None."""
    versions = Counter(e["model_id"] for e in entries if e)
    if len(versions) < 2:
        return None
    shown = ", ".join(f"{model_id} on {n}" for model_id, n in sorted(versions.items()))
    return f"replicas serve different versions ({shown}): a change is rolling out or failed"
