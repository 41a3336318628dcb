"""Deploy and steer the serving app through the Ray dashboard's Serve REST API (the same path
as `serve deploy`): every change is a declarative config update, never `serve.run`."""

from __future__ import annotations

import copy
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from raygate.cluster import quiet_token_auth_notice
from raygate.errors import (
    ClusterError,
    ConfigError,
    RegistryError,
    ServeError,
    UnservableVersionError,
    traceback_cause,
)
from raygate.registry.protocol import ModelRegistry
from raygate.schemas import read_yaml, validate_mapping
from raygate.serving.auth import ENV_TOKENS_FILE, ENV_TOKENS_VAULT
from raygate.serving.settings import (
    DEFAULT_ALIASES,
    ROUTER_DEPLOYMENT,
    AppArgs,
    RouterSettings,
    VariantSettings,
    checked_canary_percent,
    default_variant_config,
)
from raygate.telemetry.paths import ENV_TELEMETRY_DIR, telemetry_dir
from raygate.telemetry.tracing import export_settings
from raygate.tracking import tracking_uri

APP_IMPORT_PATH = "raygate.serving.app:build_app"
DEFAULT_DASHBOARD = "http://127.0.0.1:8265"
_SETTINGS = {ROUTER_DEPLOYMENT: RouterSettings, "champion": VariantSettings,
             "canary": VariantSettings}  # fmt: skip


def dashboard_address(address: str | None) -> str:
    """--address, else $RAY_DASHBOARD_ADDRESS (as Ray's own CLI), else the local dashboard."""
    return address or os.environ.get("RAY_DASHBOARD_ADDRESS") or DEFAULT_DASHBOARD


def _is_local(address: str) -> bool:
    from urllib.parse import urlsplit

    host = urlsplit(address if "://" in address else f"http://{address}").hostname
    return host in ("127.0.0.1", "localhost", "::1")


def _use_local_ray_token() -> None:
    """As `ray.init()` does for a local cluster: where RAY_AUTH_MODE is unset and this machine
    holds a Ray token (`ray start --head` makes one), send it. Never for a remote address,
    so a local token is not handed to another cluster."""
    from ray._private.authentication import authentication_token_setup

    with quiet_token_auth_notice():
        authentication_token_setup.maybe_enable_token_auth_if_token_available(
            warn_if_disabled=False
        )


def load_serve_config(path: str | Path) -> dict[str, Any]:
    """Read a Serve config and validate raygate's app in it before anything is deployed."""
    hint = "pass a Serve config such as serve_configs/local.yaml"
    config = read_yaml(path, ConfigError, hint)
    if not isinstance(config, dict) or not isinstance(config.get("applications"), list):
        raise ConfigError(f"{path}: expected a Serve config with an 'applications' list")
    app = raygate_app(config, str(path))
    validate_mapping(app.get("args") or {}, AppArgs, ConfigError, f"{path}: application args")
    for deployment in app.get("deployments") or []:
        model = _SETTINGS.get(deployment.get("name"))
        if model and "user_config" in deployment:
            where = f"{path}: deployment '{deployment['name']}' user_config"
            validate_mapping(deployment["user_config"], model, ConfigError, where)
    return config


def check_models_resolve(config: dict[str, Any], registry: ModelRegistry) -> None:
    """Before anything is deployed: a RegistryError naming the deployment whose `models:/`
    URI names no version in the registry its replicas will read (the deploying shell's, unless
    the config's runtime_env names another store, which is then not checked)."""
    from raygate.packaging.loading import resolve_model_uri

    app = raygate_app(config, "config")
    store = ((app.get("runtime_env") or {}).get("env_vars") or {}).get("MLFLOW_TRACKING_URI")
    if store not in (None, tracking_uri()):
        return
    for deployment in app.get("deployments") or []:
        settings = deployment.get("user_config")
        if _SETTINGS.get(deployment.get("name")) is not VariantSettings or not settings:
            continue
        uri = settings.get("model_uri", "")
        try:
            resolve_model_uri(uri, registry)
        except RegistryError as exc:
            raise type(exc)(
                f"deployment '{deployment['name']}' serves {uri}, but {exc}; nothing was deployed"
            ) from None


def raygate_app(config: dict[str, Any], where: str) -> dict[str, Any]:
    """The one application of the config that raygate builds."""
    apps = [a for a in config.get("applications", []) if a.get("import_path") == APP_IMPORT_PATH]
    if len(apps) != 1:
        raise ConfigError(
            f"{where}: expected exactly one application with import_path {APP_IMPORT_PATH}, "
            f"found {len(apps)}"
        )
    return apps[0]


def with_runtime_env(config: dict[str, Any], local: bool = False) -> dict[str, Any]:
    """A copy whose raygate app tells replicas where MLflow is, where the tokens are (a file
    path, a Vault reference and address: tokens and VAULT_TOKEN never go into a config,
    replicas read VAULT_TOKEN from their own environment) and where their traces go (the
    exporters and collector endpoint set here; the collector's credentials in
    OTEL_EXPORTER_OTLP_HEADERS stay in the environment Ray was started with). On a `local`
    cluster, replicas also write records and traces into this shell's telemetry folder, where
    `raygate trace list|show` here reads them (on a remote one each node keeps its own)."""
    config = copy.deepcopy(config)
    app = raygate_app(config, "config")
    env_vars = app.setdefault("runtime_env", {}).setdefault("env_vars", {})
    env_vars.setdefault("MLFLOW_TRACKING_URI", tracking_uri())
    if local:
        env_vars.setdefault(ENV_TELEMETRY_DIR, str(telemetry_dir()))
    if os.environ.get(ENV_TOKENS_FILE):
        env_vars.setdefault(ENV_TOKENS_FILE, str(Path(os.environ[ENV_TOKENS_FILE]).resolve()))
    if os.environ.get(ENV_TOKENS_VAULT):
        for reference in (ENV_TOKENS_VAULT, "VAULT_ADDR"):
            env_vars.setdefault(reference, os.environ.get(reference, ""))
    for setting, value in export_settings().items():
        env_vars.setdefault(setting, value)
    return config


def check_serves(config: dict[str, Any], model_name: str, where: str) -> None:
    """Refuse a raygate app (its deployed config) whose replicas would never load what a
    release of `model_name` moves: champion and canary must load that model's `champion` and
    `candidate` aliases (build_app's default), and its router count its traffic as that model's."""
    served = (config.get("args") or {}).get("model_name")
    fix = (
        f"serve {model_name} first (`raygate serve up CONFIG`, its app's args.model_name "
        f"{model_name}, its variants loading models:/{model_name}@champion and "
        f"models:/{model_name}@candidate), or name the model it serves"
    )
    if served != model_name:
        raise ServeError(
            f"{where} serves {served}, not {model_name}: {model_name}'s aliases would move "
            f"while it went on serving {served}; {fix}"
        )
    for deployment in config.get("deployments", []):
        variant = deployment.get("name")
        if variant not in DEFAULT_ALIASES:
            continue
        wanted = default_variant_config(model_name, variant)["model_uri"]
        uri = (deployment.get("user_config") or {}).get("model_uri", wanted)
        if uri != wanted:
            raise ServeError(
                f"{where}: its '{variant}' deployment loads {uri}, not {wanted}, which a "
                f"release of {model_name} moves; {fix}"
            )


class ServeControl:
    """up / status / weight / refresh / down against one Ray cluster's dashboard; with a
    `model_name`, only on a raygate app that serves that model by its release aliases."""

    model_name: str | None = None

    def __init__(self, address: str | None = None, model_name: str | None = None) -> None:
        from ray.dashboard.modules.serve.sdk import ServeSubmissionClient
        from ray.exceptions import AuthenticationError

        self.address = dashboard_address(address)
        self.model_name = model_name
        if _is_local(self.address):
            _use_local_ray_token()
        try:
            self._client = ServeSubmissionClient(self.address)
        except AuthenticationError:  # the dashboard answered 401/403
            raise ServeError(
                f"the Ray dashboard at {self.address} requires Ray's auth token: "
                "export RAY_AUTH_MODE=token and the cluster's token as RAY_AUTH_TOKEN "
                "(or in ~/.ray/auth_token; `ray get-auth-token` prints it on the head node)"
            ) from None
        except Exception as exc:  # requests' connection errors, version checks, bad URLs
            raise ServeError(
                f"cannot reach the Ray dashboard at {self.address} ({type(exc).__name__}); "
                "start Ray with `ray start --head` or pass --address"
            ) from None

    def up(self, config: dict[str, Any]) -> str:
        """Deploy (or update in place) every application of the config, keeping the cluster's
        other applications (Serve's deploy alone would delete them) but any raygate app it
        replaces; returns the change id each of raygate's deployments with a user_config
        carries (see wait_applied)."""
        config = with_runtime_env(config, local=_is_local(self.address))
        change_id = _new_change_id()
        app = raygate_app(config, "config")
        # every deployment carries it, also one the config leaves to the code's defaults
        for name in (ROUTER_DEPLOYMENT, *_variants(app)):
            deployment = _deployment(app, name)
            if not isinstance(deployment.get("user_config"), dict):
                deployment["user_config"] = _default_user_config(app, name)
            deployment["user_config"]["change_id"] = change_id
        named = {a.get("name", "default") for a in config.get("applications", [])}
        others = [
            deployed
            for name, deployed in _deployed_apps(self.details()).items()
            if name not in named and deployed.get("import_path") != APP_IMPORT_PATH
        ]
        self._deploy({**config, "applications": [*config.get("applications", []), *others]})
        return change_id

    def wait_applied(
        self, change_id: str, timeout_s: float, on_wait: Callable[[], None] | None = None
    ) -> dict[str, Any]:
        """Wait until every deployment that carries `change_id` reports it HEALTHY — Serve
        counts a replica as updated only once its reconfigure() returned — then the status.
        A deployment that fails, or a timeout, is a ServeError naming it."""
        try:
            return self._wait_applied(change_id, timeout_s, on_wait)
        except KeyboardInterrupt:
            raise KeyboardInterrupt(
                "the change was sent; Serve goes on applying it (`raygate serve status` shows "
                "where it is)"
            ) from None

    def _wait_applied(
        self, change_id: str, timeout_s: float, on_wait: Callable[[], None] | None
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            details = self.details()
            _, app = self._raygate_app_details(details)
            pending = _pending(app, change_id)
            if pending:
                self._check_pending(*pending[0], app, deadline, timeout_s)
            elif proxies := _proxies_not_up(details):  # up, but unreachable yet (or ever)
                self._wait_for_proxies(proxies, details, deadline, timeout_s)
            else:
                return self.status()
            if on_wait:
                on_wait()
            time.sleep(0.25)

    @staticmethod
    def _check_pending(
        name: str, deployment: dict[str, Any], app: dict[str, Any], deadline: float,
        timeout_s: float,
    ) -> None:  # fmt: skip
        """Fail once the deployment failed, or has not applied the change by the deadline.
        An app waited on as a whole (`deployment` is the app) is UNHEALTHY while a replica of
        any deployment restarts, one the change did not touch too: that is waited out."""
        own_failure = deployment is not app and deployment.get("status") in (
            "UNHEALTHY", "DEPLOY_FAILED"
        )  # fmt: skip
        if own_failure or app.get("status") == "DEPLOY_FAILED":
            message = deployment.get("message") or app.get("message") or "see Serve's logs"
            raise ServeError(f"{name} failed to apply the change: {without_traceback(message)}")
        if time.monotonic() >= deadline:
            # Serve says why, e.g. replicas that cannot be scheduled and their resources
            said = without_traceback(deployment.get("message") or "")
            raise ServeError(
                f"{name} has not applied the change after {timeout_s:g} s "
                f"(status {deployment.get('status')}{': ' + said if said else ''}); "
                "check `raygate serve status` or pass a longer --wait"
            )

    @staticmethod
    def _wait_for_proxies(
        proxies: list[dict[str, Any]], details: dict[str, Any], deadline: float, timeout_s: float
    ) -> None:
        """Fail once a proxy is UNHEALTHY or still not up at the deadline, naming the port."""
        proxy = proxies[0]
        unhealthy = proxy.get("status") == "UNHEALTHY"
        if not unhealthy and time.monotonic() < deadline:
            return
        options = details.get("http_options") or {}
        where = f"{options.get('host', '')}:{options.get('port', '')}"
        still = "UNHEALTHY" if unhealthy else f"still {proxy.get('status')} after {timeout_s:g} s"
        raise ServeError(
            f"Serve's HTTP proxy on node {proxy.get('node_ip', '?')} is {still}, so nothing "
            f"answers at {where}: another process may hold "
            "the port (free it, or `serve shutdown` and set another http_options.port); "
            "Serve's logs say why"
        )

    def details(self) -> dict[str, Any]:
        try:
            return self._client.get_serve_details()
        except Exception as exc:
            raise ServeError(f"Serve API at {self.address} failed: {exc}") from None

    def status(self) -> dict[str, Any]:
        """raygate's app: its status, each deployment's status and replicas, the split."""
        details = self.details()
        app_name, app = self._raygate_app_details(details)
        config = app.get("deployed_app_config") or {}
        user_configs = {d["name"]: d.get("user_config") for d in config.get("deployments", [])}
        deployments = {
            name: {
                "status": d.get("status"),
                "replicas": len(d.get("replicas", [])),
                "replica_ids": sorted(r.get("replica_id", "") for r in d.get("replicas", [])),
                "user_config": user_configs.get(name)
                or (d.get("deployment_config") or {}).get("user_config"),
                "message": d.get("message") or None,
            }
            for name, d in app.get("deployments", {}).items()
        }
        router = deployments.get(ROUTER_DEPLOYMENT, {}).get("user_config") or {}
        return {
            "application": app_name,
            "status": app.get("status"),
            "message": app.get("message") or None,
            "canary_percent": router.get("canary_percent", 0.0),
            "deployments": deployments,
        }

    def set_weight(self, percent: float) -> str:
        """Move the canary's share: only the router's user_config changes (no restart)."""
        return self.update_settings(
            ROUTER_DEPLOYMENT, canary_percent=checked_canary_percent(percent)
        )

    @staticmethod
    def check_loaded(status: dict[str, Any], deployment: str, change_id: str) -> str | None:
        """After `change_id` applied (`status`: what wait_applied returned):
        UnservableVersionError when a replica of `deployment` could not load the model it
        names (a replica keeps serving the model it had, so Serve reports the change applied).
        Replicas say what they serve in the cluster's key-value store, so this process joins
        the cluster; why it could not check, else None."""
        from raygate.cluster import join_running_cluster
        from raygate.serving import replica_versions

        ids = status["deployments"].get(deployment, {}).get("replica_ids", [])
        try:
            join_running_cluster()
            entries = replica_versions.read(status["application"], {deployment: ids})
        except ClusterError as exc:
            return f"could not check that {deployment}'s replicas loaded it: {exc}"
        failed = [e for e in entries.values()
                  if e and e.get("change_id") == change_id and e.get("load_error")]  # fmt: skip
        if failed:
            raise UnservableVersionError(
                f"the {deployment} deployment could not load the version asked of it "
                f"({failed[0]['load_error']}); its replicas keep serving {failed[0]['model_id']}"
            )
        if ids and not any(entries.values()):
            return f"could not check that {deployment}'s replicas loaded it: none has said"
        return None

    def refresh(self, variant: str) -> str:
        """Make a variant re-resolve its alias (after a flip): its revision goes up by one."""
        return self.update_settings(variant, revision=lambda current: int(current or 0) + 1)

    def update_settings(self, deployment: str, **changes: Any) -> str:
        """Change fields of one deployment's user_config (a callable gets the current value);
        the result is validated before it is sent. Returns the change id to wait for."""
        change_id = _new_change_id()

        def change(app: dict[str, Any]) -> None:
            variants = _variants(app)
            # no canary: 0 % is what it already gets (promote and rollback ask for it)
            if changes.get("canary_percent", 0) > 0 and "canary" not in variants:
                raise ConfigError(
                    f"this app serves no canary (args.variants is {variants}); deploy a config "
                    "with a canary, e.g. serve_configs/canary.yaml"
                )
            target = _deployment(app, deployment)
            current = target.get("user_config") or _default_user_config(app, deployment)
            updated = dict(current)
            for key, value in changes.items():
                updated[key] = value(current.get(key)) if callable(value) else value
            updated["change_id"] = change_id
            where = f"deployment '{deployment}' user_config"
            validate_mapping(updated, _SETTINGS[deployment], ConfigError, where)
            target["user_config"] = updated

        self._update(change)
        return change_id

    def down(self) -> None:
        """Delete raygate's app; other applications on the cluster keep running."""
        details = self.details()
        app_name, _ = self._raygate_app_details(details)
        others = [app for name, app in _deployed_apps(details).items() if name != app_name]
        if not others:
            try:
                self._client.delete_applications()
            except Exception as exc:
                raise ServeError(f"Serve API at {self.address} failed: {exc}") from None
            return
        self._deploy({**_cluster_settings(details), "applications": others})

    # -- helpers ---------------------------------------------------------------------------

    def _update(self, change) -> dict[str, Any]:
        details = self.details()
        app_name, _ = self._raygate_app_details(details)
        apps = copy.deepcopy(_deployed_apps(details))
        change(apps[app_name])
        self._deploy({**_cluster_settings(details), "applications": list(apps.values())})

    def _deploy(self, config: dict[str, Any]) -> None:
        try:
            self._client.deploy_applications(config)
        except Exception as exc:
            raise ServeError(f"Serve refused the config: {_refusal(str(exc))}") from None

    def _raygate_app_details(self, details: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name, app = self._find_raygate_app(details)
        if self.model_name is not None:
            where = f"the raygate application '{name}' at {self.address}"
            check_serves(app.get("deployed_app_config") or {}, self.model_name, where)
        return name, app

    @staticmethod
    def _find_raygate_app(details: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        for name, app in details.get("applications", {}).items():
            if (app.get("deployed_app_config") or {}).get("import_path") == APP_IMPORT_PATH:
                return name, app
        for name, app in details.get("applications", {}).items():
            started_by_code = app.get("source") == "imperative"
            if started_by_code and ROUTER_DEPLOYMENT in app.get("deployments", {}):
                raise ServeError(
                    f"application '{name}' was started by `serve run IMPORT_PATH` (or serve.run), "
                    "which leaves Serve no config for raygate to change; deploy it from a config "
                    "instead: `raygate serve up serve_configs/canary.yaml` (or Ray's `serve deploy`"
                    " / `serve run` with that file)"
                )
        raise ServeError("no raygate application is deployed; run `raygate serve up CONFIG`")


def _variants(app: dict[str, Any]) -> list[str]:
    """The variants an app config serves (AppArgs' default when its args say none)."""
    return (app.get("args") or {}).get("variants", ["champion"])


def _new_change_id() -> str:
    return uuid.uuid4().hex[:12]


def _pending(app: dict[str, Any], change_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(label, details) of each deployment whose target carries `change_id` but that does not
    yet run it healthy:
    Serve reports the target's user_config per deployment, and HEALTHY only once every
    replica runs that version."""
    targets = {
        d["name"]: d.get("user_config") or {}
        for d in (app.get("deployed_app_config") or {}).get("deployments", [])
    }
    pending = []
    for name, deployment in app.get("deployments", {}).items():
        if targets.get(name, {}).get("change_id") != change_id:
            continue
        running = (deployment.get("deployment_config") or {}).get("user_config") or {}
        if running.get("change_id") != change_id or deployment.get("status") != "HEALTHY":
            pending.append((f"deployment '{name}'", deployment))
    if not any(t.get("change_id") == change_id for t in targets.values()):
        return [("the application", app)]  # Serve has not taken the new config in yet
    if not pending and app.get("status") != "RUNNING":
        return [("the application", app)]  # routes are published once it runs
    return pending


def _default_user_config(app: dict[str, Any], deployment: str) -> dict[str, Any]:
    """The user_config build_app gives a deployment its config leaves unset."""
    if deployment == ROUTER_DEPLOYMENT:
        return RouterSettings().model_dump()
    return default_variant_config((app.get("args") or {}).get("model_name", ""), deployment)


def _deployment(app: dict[str, Any], name: str) -> dict[str, Any]:
    deployments = app.setdefault("deployments", [])
    for deployment in deployments:
        if deployment.get("name") == name:
            return deployment
    variants = _variants(app)
    if name != ROUTER_DEPLOYMENT and name not in variants:
        raise ConfigError(f"the app has no '{name}' deployment (variants: {', '.join(variants)})")
    deployments.append({"name": name})
    return deployments[-1]


def _deployed_apps(details: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each application Serve runs from a config, by name: that config (one `serve.run`
    started has none, and cannot be sent back)."""
    return {
        name: app["deployed_app_config"]
        for name, app in details.get("applications", {}).items()
        if app.get("deployed_app_config")
    }


def _cluster_settings(details: dict[str, Any]) -> dict[str, Any]:
    """The cluster-wide part of a deploy request, as currently deployed."""
    http = details.get("http_options") or {}
    keep = ("host", "port", "root_path", "request_timeout_s", "keep_alive_timeout_s")
    settings: dict[str, Any] = {"http_options": {k: http[k] for k in keep if k in http}}
    if details.get("proxy_location"):
        settings["proxy_location"] = details["proxy_location"]
    return settings


def _proxies_not_up(details: dict[str, Any]) -> list[dict[str, Any]]:
    """Serve's HTTP proxies that are starting or unhealthy (draining ones are fine)."""
    proxies = (details.get("proxies") or {}).values()
    return [p for p in proxies if p.get("status") in ("STARTING", "UNHEALTHY")]


def _refusal(message: str) -> str:
    """Why Serve refused a config, without the dashboard's traceback: the exception it ends
    in; a proxy that could not bind its port says what to do."""
    if "Traceback (most recent call last)" not in message:
        return message
    lines = [line.strip() for line in message.splitlines() if line.strip(" .")]
    cause = lines[-1]
    if "Failed to bind to address" in cause:
        return (f"its HTTP proxy could not start: {cause.split(': ', 1)[-1]} Another process "
                "holds the port: free it, or `serve shutdown` and set another "
                "http_options.port in the config")  # fmt: skip
    return f"{cause} (the traceback is in Serve's logs)"


def without_traceback(message: str) -> str:
    """Serve's message about a failed replica without the replica's traceback: Serve's own
    sentence, then the exception the traceback ends in (raygate's errors by their message)."""
    if "Traceback (most recent call last)" not in message:
        return message
    said = message.strip().splitlines()[0].removesuffix("Error:").strip()
    cause = traceback_cause(message)
    return f"{said} The replica failed with: {cause} (its traceback is in Serve's logs)"
