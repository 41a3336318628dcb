"""A release's traffic split on a Gateway API HTTPRoute: champion and canary as two Ray
clusters (two RayServices), the canary's share as the route's backendRef weights, each
variant's alias refresh through its own cluster's Serve API. Used with `--split FILE`."""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from raygate.errors import ConfigError, ServeError
from raygate.schemas import StrictModel, read_yaml, validate_mapping
from raygate.serving.settings import checked_canary_percent

GROUP, VERSION, PLURAL = "gateway.networking.k8s.io", "v1", "httproutes"
WEIGHT_TOTAL = 10_000  # the two weights always sum to this: 0.01 % steps
RBAC_HINT = "deploy/k8s/controller-rbac.yaml"
CONFLICT_ATTEMPTS = 5  # read-reweight-replace rounds before a concurrent writer is an error


class RouteRef(StrictModel):
    """The HTTPRoute whose weights the controller moves."""

    name: str = Field(min_length=1)
    namespace: str = Field("default", min_length=1)


class VariantTarget(StrictModel):
    """Where one variant runs: its Service in the route, and its Ray cluster's dashboard."""

    backend: str = Field(min_length=1, description="The Service named in the route's backendRefs.")
    dashboard: str = Field(
        min_length=1, description="Ray dashboard URL of the cluster serving this variant."
    )


class GatewaySplit(StrictModel):
    """A split file (deploy/k8s/split.gateway.yaml)."""

    kind: Literal["gateway"]
    route: RouteRef
    champion: VariantTarget
    canary: VariantTarget
    kube_context: str | None = Field(
        None, description="kubeconfig context outside a pod (default: the current one)."
    )


def load_split(path: str | Path) -> GatewaySplit:
    hint = "see deploy/k8s/split.gateway.yaml for an example"
    raw = read_yaml(path, ConfigError, hint)
    split = validate_mapping(raw, GatewaySplit, ConfigError, str(path))
    if split.champion.backend == split.canary.backend:
        raise ConfigError(f"{path}: champion and canary name the same backend")
    return split


def weights(percent: float) -> tuple[int, int]:
    """(champion, canary) backendRef weights for the canary's share in percent."""
    canary = round(checked_canary_percent(percent) * WEIGHT_TOTAL / 100)
    return WEIGHT_TOTAL - canary, canary


def reweighted(route: dict[str, Any], split: GatewaySplit, percent: float) -> dict[str, Any]:
    """A copy of the route whose every rule that sends to both backends weights them for
    `percent`; other rules and backendRefs are left as they are. A route where no rule sends
    to both is a ConfigError naming the backends it has."""
    champion_weight, canary_weight = weights(percent)
    by_backend = {split.champion.backend: champion_weight, split.canary.backend: canary_weight}
    route = copy.deepcopy(route)
    matched = 0
    for rule in route.get("spec", {}).get("rules") or []:
        refs = rule.get("backendRefs") or []
        if not set(by_backend) <= {ref.get("name") for ref in refs}:
            continue
        matched += 1
        for ref in refs:
            if ref.get("name") in by_backend:
                ref["weight"] = by_backend[ref["name"]]
    if not matched:
        found = sorted({ref.get("name") for rule in route.get("spec", {}).get("rules") or []
                        for ref in rule.get("backendRefs") or []})  # fmt: skip
        raise ConfigError(
            f"HTTPRoute {_name(split)} has no rule sending to both {split.champion.backend} and "
            f"{split.canary.backend} (its backends: {', '.join(map(str, found)) or 'none'}); "
            "fix the split file's backend names or the route"
        )
    return route


def acceptance(route: dict[str, Any]) -> tuple[bool, str | None]:
    """(applied, refusal) of the route's current generation: applied once every parent
    (Gateway) that reports on the route accepted it and resolved its backends at that
    generation; a refusal is the reason a parent gave for rejecting it."""
    generation = route.get("metadata", {}).get("generation", 0)
    parents = (route.get("status") or {}).get("parents") or []
    if not parents:
        return False, None
    for parent in parents:
        conditions = {c.get("type"): c for c in parent.get("conditions") or []}
        for kind in ("Accepted", "ResolvedRefs"):
            condition = conditions.get(kind)
            if condition is None or condition.get("observedGeneration", -1) < generation:
                return False, None
            if condition.get("status") != "True":
                gateway = (parent.get("parentRef") or {}).get("name", "?")
                return False, (
                    f"Gateway {gateway} set {kind}=False ({condition.get('reason')}): "
                    f"{condition.get('message', '')}".rstrip(": ")
                )
    return True, None


def _name(split: GatewaySplit) -> str:
    return f"{split.route.namespace}/{split.route.name}"


def _is_conflict(exc: BaseException) -> bool:
    return getattr(exc, "status", None) == 409


class GatewaySplitControl:
    """ServingControl on a Gateway API HTTPRoute (and each variant's own Serve app)."""

    def __init__(
        self, split: GatewaySplit, timeout_s: float = 300.0, model_name: str | None = None
    ) -> None:
        self.split, self._timeout_s, self.model_name = split, timeout_s, model_name
        self._api = _custom_objects_api(split.kube_context)
        self._controls: dict[str, Any] = {}

    def check_serves(self) -> None:
        """Each variant's cluster runs a raygate app that serves `model_name` (ServeError)."""
        for variant in ("champion", "canary"):
            self._control(variant).status()

    def set_weight(self, percent: float, wait: bool = True) -> dict[str, Any]:
        """Write the weights (a repeat writes nothing) and wait until the route's Gateways
        accepted that generation; what the route now says."""
        try:
            route = self._write_weights(percent)
        except Exception as exc:
            if not _is_conflict(exc):
                raise
            raise ServeError(
                f"HTTPRoute {_name(self.split)} kept changing under the controller "
                f"({CONFLICT_ATTEMPTS} conflicts in a row): is another controller writing its "
                "weights?"
            ) from None
        if wait:
            route = self._wait_accepted(route["metadata"].get("generation", 0))
        champion, canary = weights(percent)
        return {"route": _name(self.split), "canary_percent": percent,
                "champion_weight": champion, "canary_weight": canary,
                "generation": route["metadata"].get("generation", 0),
                "accepted": acceptance(route)[0]}  # fmt: skip

    def refresh(self, variant: str) -> None:
        """The variant's cluster re-resolves its alias (its own raygate app, one variant)."""
        control = self._control(variant)
        control.wait_applied(control.refresh(variant), self._timeout_s)

    def _control(self, variant: str) -> Any:
        from raygate.serving.control import ServeControl

        if variant not in self._controls:
            dashboard = getattr(self.split, variant).dashboard
            self._controls[variant] = ServeControl(dashboard, self.model_name)
        return self._controls[variant]

    @retry(retry=retry_if_exception(_is_conflict), stop=stop_after_attempt(CONFLICT_ATTEMPTS),
           wait=wait_exponential(multiplier=0.2, max=2), reraise=True)  # fmt: skip
    def _write_weights(self, percent: float) -> dict[str, Any]:
        """Read, reweight, replace with the read's resourceVersion: a concurrent writer makes
        the API answer 409 and the whole step runs again on the new route."""
        current = self._call("read", self._api.get_namespaced_custom_object)
        updated = reweighted(current, self.split, percent)
        if updated == current:
            return current
        return self._call("update", self._api.replace_namespaced_custom_object, updated)

    def _wait_accepted(self, generation: int) -> dict[str, Any]:
        deadline = time.monotonic() + self._timeout_s
        while True:
            route = self._call("read", self._api.get_namespaced_custom_object)
            applied, refusal = acceptance(route)
            if refusal:
                raise ServeError(f"HTTPRoute {_name(self.split)} was refused: {refusal}")
            if applied and route["metadata"].get("generation", 0) >= generation:
                return route
            if time.monotonic() >= deadline:
                raise ServeError(
                    f"no Gateway has accepted generation {generation} of HTTPRoute "
                    f"{_name(self.split)} after {self._timeout_s:g} s: is a Gateway API "
                    f"controller running? `kubectl describe httproute -n "
                    f"{self.split.route.namespace} {self.split.route.name}` shows its status"
                )
            time.sleep(0.5)

    def _call(self, verb: str, method, body: dict[str, Any] | None = None) -> dict[str, Any]:
        from kubernetes.client.exceptions import ApiException

        route = self.split.route
        args = (GROUP, VERSION, route.namespace, PLURAL, route.name)
        try:
            return method(*args, body) if body is not None else method(*args)
        except ApiException as exc:
            if exc.status == 409:
                raise
            raise ServeError(_api_refusal(verb, self.split, exc)) from None
        except Exception as exc:  # urllib3's connection errors, TLS, DNS
            host = self._api.api_client.configuration.host
            raise ServeError(
                f"cannot reach the Kubernetes API at {host} ({type(exc).__name__}: {exc})"
            ) from None


def _api_refusal(verb: str, split: GatewaySplit, exc) -> str:
    where = f"HTTPRoute {_name(split)}"
    if exc.status == 404:
        return f"{where} not found: apply it first (deploy/k8s/gateway-split.yaml)"
    if exc.status in (401, 403):
        return (
            f"the Kubernetes API refused to {verb} {where} ({exc.status} {exc.reason}): the "
            f"controller's identity needs get and update on {PLURAL}.{GROUP} in "
            f"{split.route.namespace} ({RBAC_HINT})"
        )
    return f"the Kubernetes API failed to {verb} {where}: {exc.status} {exc.reason}"


def _custom_objects_api(context: str | None):
    """The Kubernetes API as a pod's service account sees it, else as the kubeconfig's
    context ($KUBECONFIG or ~/.kube/config)."""
    try:
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException
    except ImportError:
        raise ConfigError(
            "a gateway split needs the Kubernetes client: pip install 'raygate[k8s]'"
        ) from None
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except ConfigException:
        try:
            config.load_kube_config(  # $KUBECONFIG read now: the client reads it at import
                config_file=os.environ.get("KUBECONFIG", "~/.kube/config"),
                context=context,
                client_configuration=configuration,
                persist_config=False,  # never write refreshed credentials into the user's file
            )
        except (ConfigException, OSError) as exc:
            raise ConfigError(
                f"no Kubernetes credentials: run in a pod with a service account, or set "
                f"KUBECONFIG to a kubeconfig ({exc})"
            ) from None
    return client.CustomObjectsApi(client.ApiClient(configuration))
