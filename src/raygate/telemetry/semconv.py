"""Span attribute names: OpenTelemetry's GenAI conventions where they exist, `raygate.*`
for what they lack (rerank, cost, variant, safety). Content is never an attribute."""

from typing import Final

OPERATION: Final = "gen_ai.operation.name"
PROVIDER: Final = "gen_ai.provider.name"
REQUEST_MODEL: Final = "gen_ai.request.model"
AGENT_NAME: Final = "gen_ai.agent.name"
DATA_SOURCE: Final = "gen_ai.data_source.id"
TOOL_NAME: Final = "gen_ai.tool.name"
INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
FINISH_REASONS: Final = "gen_ai.response.finish_reasons"

VARIANT: Final = "raygate.variant"
MODEL_ID: Final = "raygate.model_id"
PROMPT_ID: Final = "raygate.prompt_id"
CACHED_TOKENS: Final = "raygate.usage.cached_tokens"
COST_USD: Final = "raygate.cost_usd"
FINISH_REASON: Final = "raygate.finish_reason"
SAFETY_FLAGS: Final = "raygate.safety.flags"
RETRIEVAL_K: Final = "raygate.retrieval.k"
RETRIEVAL_DOCUMENTS: Final = "raygate.retrieval.documents"
RERANK_METHOD: Final = "raygate.rerank.method"
HTTP_STATUS: Final = "http.response.status_code"
