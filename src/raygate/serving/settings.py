"""Settings of the serving app: app args (structure) and each deployment's user_config
(values changed at run time without restarting replicas)."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, model_validator

from raygate.errors import ConfigError
from raygate.limits import RateLimit
from raygate.schemas import StrictModel

VariantName = Literal["champion", "canary"]
ROUTER_DEPLOYMENT = "router"


_SERIALIZER_PACKAGES = {"msgpack": "ormsgpack", "orjson": "orjson"}  # what Serve imports


class ModelCalls(StrictModel):
    """How the router calls the model replicas (Ray Serve DeploymentHandle options)."""

    by_reference: bool = Field(
        True,
        description="True: through Ray's object store (Serve's default); False: over gRPC, "
        "which skips the object store for small requests.",
    )
    serialization: Literal["cloudpickle", "pickle", "msgpack", "orjson"] = Field(
        "cloudpickle", description="How requests and answers are serialized on the way."
    )

    def handle_options(self) -> dict[str, Any]:
        """Keyword arguments of DeploymentHandle.options(); empty for Serve's defaults. A
        serializer whose package is missing where Ray runs is a ConfigError (Serve would
        fail every request instead)."""
        if self == ModelCalls():
            return {}
        package = _SERIALIZER_PACKAGES.get(self.serialization)
        if package and importlib.util.find_spec(package) is None:
            raise ConfigError(
                f"model_calls.serialization {self.serialization!r} needs the {package} package "
                f"where Ray runs: pip install {package} (or 'raygate[fast-serialization]')"
            )
        return {"_by_reference": self.by_reference, "request_serialization": self.serialization,
                "response_serialization": self.serialization}  # fmt: skip


class AppArgs(StrictModel):
    """`args` of the Serve application: which model and variants. Changing them redeploys."""

    model_name: str = Field(min_length=1, description="Registered model name in MLflow.")
    variants: list[VariantName] = Field(
        default_factory=lambda: ["champion"],
        min_length=1,
        description="Model deployments to build: champion, canary, or both (a variant alone "
        "answers every request: one side of a split made outside Serve, e.g. by a gateway).",
    )
    model_calls: ModelCalls = Field(
        default_factory=ModelCalls, description="How the router calls the model replicas."
    )

    @model_validator(mode="after")
    def _distinct_variants(self) -> AppArgs:
        if len(set(self.variants)) != len(self.variants):
            raise ValueError(f"variants must be distinct, got {self.variants}")
        return self


class RouterSettings(StrictModel):
    """The router's user_config: traffic split and request limits."""

    canary_percent: float = Field(
        0.0, ge=0, le=100, description="Share of traffic (%) the canary answers."
    )
    rate_limit: RateLimit | None = Field(
        None, description="Per-token limit, per router replica; null: none."
    )
    max_body_bytes: int = Field(
        1_048_576,
        ge=1024,
        description="Largest request body accepted (413 above); 1 MiB, as nginx's default: a "
        "long conversation or a pasted document fits, a runaway client does not.",
    )
    auth: bool = Field(
        True, description="Require a bearer token (from RAYGATE_API_TOKENS[_FILE]) on /v1/*."
    )
    request_timeout_s: float | None = Field(
        50.0,
        gt=0,
        description="Longest a model may take to answer (a stream: to send its first piece); "
        "then 504, counted against its variant. Below the 60 s most clients and proxies give "
        "up at, so that a hung canary is judged, not hung up on. A model with a longer "
        "deadline of its own (an agent's deadline_s, 60 s by default) is cut here first: raise "
        "this above it to keep the model's own answer. null: none.",
    )
    change_id: str = Field("", description="Set by raygate on each change, to wait for it.")


class VariantSettings(StrictModel):
    """A model deployment's user_config: which model it serves."""

    model_uri: str = Field(
        min_length=1,
        description="models:/NAME@ALIAS (resolved to a version at load time) or NAME/VERSION.",
    )
    revision: int = Field(
        0, ge=0, description="Bump to make replicas resolve the alias again (after a flip)."
    )
    max_batch_size: int = Field(16, ge=1, le=256, description="Rows predicted together.")
    batch_wait_timeout_s: float = Field(
        0.002, ge=0, le=1, description="How long a batch waits to fill."
    )
    input_map: dict[str, str] = Field(
        default_factory=dict,
        description="Model input → request field that fills it, for a pyfunc whose inputs "
        "are named otherwise (e.g. {question: query}); a lone text input gets the query anyway.",
    )
    stuck_after_s: float = Field(
        120.0,
        gt=0,
        description="A replica whose model answered nothing for this long while a call of it "
        "runs fails Serve's health check and is replaced: a call stuck in the model (an API "
        "called without a timeout) holding what every call needs would fail every request "
        "after it. Keep it above the router's request_timeout_s.",
    )
    change_id: str = Field("", description="Set by raygate on each change, to wait for it.")


def checked_canary_percent(percent: float) -> float:
    """The canary's share of traffic, refused outside 0-100 % before anything is sent."""
    if not 0 <= percent <= 100:
        raise ConfigError(f"canary weight must be between 0 and 100 percent, got {percent}")
    return percent


def restrict_to_variants(app: dict[str, Any], variants: Sequence[str]) -> None:
    """Make an application config (a dict, as in a Serve config) build only `variants`: its
    args name them and only the router's and their deployments stay."""
    app.setdefault("args", {})["variants"] = list(variants)
    kept = (ROUTER_DEPLOYMENT, *variants)
    app["deployments"] = [d for d in app.get("deployments") or [] if d.get("name") in kept]


DEFAULT_ALIASES = {"champion": "champion", "canary": "candidate"}


def default_variant_config(model_name: str, variant: str) -> dict[str, object]:
    """A variant's user_config when the Serve config gives none: the variant's alias."""
    return {"model_uri": f"models:/{model_name}@{DEFAULT_ALIASES[variant]}"}
