"""A stand-in for the part of the Kubernetes API a gateway split uses (GET and PUT of HTTPRoutes,
with resourceVersion conflicts, generations, bearer tokens and Status errors) plus a Gateway
controller that writes the route's status. No kube-apiserver can run on these machines; the
official `kubernetes` client talks to this over HTTP exactly as it would to a cluster."""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import yaml

from raygate.testing import http_server, send_json

PATH = re.compile(r"^/apis/gateway\.networking\.k8s\.io/v1/namespaces/([^/]+)/httproutes/([^/?]+)")
TOKEN = "stand-in-token"


def accept(route: dict[str, Any]) -> dict[str, Any]:
    """What a Gateway controller writes once it programmed the route's current generation."""
    generation = route["metadata"]["generation"]
    conditions = [{"type": kind, "status": "True", "reason": kind, "observedGeneration": generation}
                  for kind in ("Accepted", "ResolvedRefs")]  # fmt: skip
    parent = {"parentRef": {"name": "inference-gateway"}, "conditions": conditions,
              "controllerName": "example.com/gateway"}  # fmt: skip
    return {"parents": [parent]}


class KubeApi:
    """Routes by (namespace, name); `gateway(route)` returns the status a Gateway controller
    has written by the time of each request (None: none yet, or no controller); `before_put`
    can change a route between a client's read and its write."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], dict[str, Any]] = {}
        self.gateway: Callable[[dict[str, Any]], dict[str, Any] | None] = accept
        self.before_put: Callable[[dict[str, Any]], None] | None = None
        self.allowed = True
        self.puts = self.conflicts = 0
        self._lock = threading.Lock()

    def add(self, route: dict[str, Any]) -> None:
        route = copy.deepcopy(route)
        meta = route["metadata"]
        meta.setdefault("namespace", "default")
        meta.update(generation=1, resourceVersion="1")
        route["status"] = self.gateway(route) or {}
        self.routes[(meta["namespace"], meta["name"])] = route

    def get(self, namespace: str, name: str) -> dict[str, Any]:
        return copy.deepcopy(self.routes[(namespace, name)])

    def handle(self, method: str, path: str, auth: str | None, body: bytes) -> tuple[int, dict]:
        if auth != f"Bearer {TOKEN}":
            return _status(401, "Unauthorized", "Unauthorized")
        if not self.allowed:
            return _status(403, "Forbidden", "httproutes is forbidden: cannot update")
        match = PATH.match(path)
        key = (match.group(1), match.group(2)) if match else None
        with self._lock:
            if key not in self.routes:
                return _status(404, "NotFound", f"httproutes {key and key[1]!r} not found")
            stored = self.routes[key]
            if method == "GET":
                stored["status"] = self.gateway(stored) or stored.get("status", {})
                return 200, copy.deepcopy(stored)
            if self.before_put:  # another writer gets in between this client's read and write
                before_put, self.before_put = self.before_put, None
                before_put(stored)
            sent = json.loads(body)
            if sent["metadata"].get("resourceVersion") != stored["metadata"]["resourceVersion"]:
                self.conflicts += 1
                return _status(409, "Conflict", "the object has been modified")
            self.puts += 1
            meta = stored["metadata"]
            if sent["spec"] != stored["spec"]:
                meta["generation"] += 1
                stored["spec"] = sent["spec"]
            meta["resourceVersion"] = str(int(meta["resourceVersion"]) + 1)
            stored["status"] = self.gateway(stored) or stored.get("status", {})
            return 200, copy.deepcopy(stored)

    def bump(self, route: dict[str, Any]) -> None:
        """A change by someone else: a new resourceVersion (used as `before_put`)."""
        route["metadata"]["resourceVersion"] = str(int(route["metadata"]["resourceVersion"]) + 1)


def _status(code: int, reason: str, message: str) -> tuple[int, dict]:
    return code, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                  "message": message, "reason": reason, "code": code}  # fmt: skip


@contextmanager
def serving(api: KubeApi, folder: Path) -> Iterator[Path]:
    """The stand-in on 127.0.0.1 and a kubeconfig for it (yielded)."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            code, body = api.handle(self.command, self.path, self.headers.get("Authorization"),
                                    self.rfile.read(length))  # fmt: skip
            send_json(self, code, body)

        do_GET = do_PUT = _answer

        def log_message(self, *args) -> None:
            pass

    with http_server(Handler) as url:
        kubeconfig = folder / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "stand-in",
            "clusters": [{"name": "stand-in", "cluster": {"server": url}}],
            "users": [{"name": "controller", "user": {"token": TOKEN}}],
            "contexts": [{"name": "stand-in",
                          "context": {"cluster": "stand-in", "user": "controller"}}],
        }))  # fmt: skip
        yield kubeconfig
