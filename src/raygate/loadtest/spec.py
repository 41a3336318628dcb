"""One validated spec of a load run, built from the command line or from Python: target,
arrival plan, workers and SLOs, every mistake named with its field."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from raygate.errors import ConfigError
from raygate.loadtest.arrival import ArrivalConfig
from raygate.loadtest.metrics import parse_slos
from raygate.schemas import StrictModel, describe_error


class LoadTestSpec(StrictModel):
    """Where to send, how fast, with how many workers, and what the run must meet."""

    url: str = Field(pattern=r"^https?://", description="Base URL, e.g. http://127.0.0.1:8000.")
    protocol: Literal["predict", "openai"] = Field("predict", description="Request shape.")
    stream: bool = Field(False, description="openai: stream (TTFT, inter-token latency).")
    model: str = Field("reference-agent", min_length=1, description="openai: model name.")
    arrival: ArrivalConfig = Field(description="Open-loop rate or closed-loop concurrency.")
    workers: int = Field(1, ge=1, description="Ray actors generating load.")
    connections: int = Field(256, ge=1, description="Connections per worker at most.")
    timeout_s: float = Field(60.0, gt=0, description="Seconds one request may take.")
    slos: dict[str, float] = Field(default_factory=dict, description="SLO name → limit.")

    @field_validator("url")
    @classmethod
    def _service_root(cls, url: str) -> str:
        """Without a trailing slash or `/v1`: an OpenAI client's base URL (…:8000/v1) names
        the same service, and the paths sent start with /v1."""
        return url.rstrip("/").removesuffix("/v1")

    @field_validator("stream")
    @classmethod
    def _stream_needs_openai(cls, stream: bool, info) -> bool:
        if stream and info.data.get("protocol") != "openai":
            raise ValueError("--stream needs --protocol openai (predict answers whole)")
        return stream


# Spec fields as the command line names them.
OPTIONS = {
    "url": "URL", "protocol": "--protocol", "stream": "--stream", "model": "--model",
    "workers": "--workers", "connections": "--connections", "timeout_s": "--timeout",
    "arrival.rate": "--rate", "arrival.concurrency": "--concurrency",
    "arrival.duration_s": "--duration", "arrival.process": "--arrival",
    "arrival.burstiness": "--burstiness", "arrival.ramp_up_s": "--ramp-up",
}  # fmt: skip


def load_test_spec(options: dict[str, Any], slo_items: list[str]) -> LoadTestSpec:
    """The spec from command-line values; one ConfigError naming the option otherwise."""
    slos = parse_slos(slo_items)
    try:
        return LoadTestSpec.model_validate({**options, "slos": slos})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        if field in OPTIONS:
            got = f" (got {first['input']!r})" if first["type"] != "missing" else ""
            message = f"{OPTIONS[field]}: {first['msg']}{got}"
        else:
            message = describe_error(first)
        raise ConfigError(f"load test: {message}") from None
