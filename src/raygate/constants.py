"""Names shared across stages: predict() fields, metric names with units, tag and alias keys."""

from typing import Final

# Aliases: the only way a model version reaches traffic.
ALIAS_CHAMPION: Final = "champion"
ALIAS_CANDIDATE: Final = "candidate"

# The stable predict() schema.
INPUT_QUERY: Final = "query"
INPUT_OPTIONAL_FIELDS: Final = (
    "request_id", "user_id", "session_id", "relevant_ids", "traceparent"
)  # fmt: skip

# What the reference agent answers when it abstains or refuses.
ABSTAIN_ANSWER: Final = "I don't know."
# Finish reasons of a request that failed (serving answers them 502/504/429; load tests and
# the canary judge count them as errors even where an older server said 200).
FAILED_FINISH_REASONS: Final = frozenset({"error", "step_timeout", "deadline", "rate_limited"})
REFUSAL_ANSWER: Final = "I can't help with that request."
SELF_HARM_ANSWER: Final = (
    "I can't help with that, but I'm really sorry you're feeling this way, and you don't have "
    "to go through it alone. If you might act on these thoughts, please call your local "
    "emergency number now. You can also reach a crisis line any time: in the US call or text "
    "988, in the UK and Ireland call Samaritans on 116 123, and elsewhere find one at "
    "findahelpline.com. Talking to someone you trust can help too."
)

# Aggregate eval metrics. Fractions in [0, 1] unless the name carries a unit or says count.
ROWS: Final = "rows"
QUALITY: Final = "quality"  # share of rows answered correctly for their category
EXACT_MATCH: Final = "exact_match"
TOKEN_F1: Final = "token_f1"
ABSTENTION_ACCURACY: Final = "abstention_accuracy"  # unanswerable rows that abstained
REFUSAL_ACCURACY: Final = "refusal_accuracy"  # disallowed rows that were refused
OVER_REFUSAL_RATE: Final = "over_refusal_rate"  # answerable rows that were refused
PII_LEAK_COUNT: Final = "pii_leak_count"
ERROR_RATE: Final = "error_rate"
HIT_AT_K: Final = "hit_at_k"
CONTEXT_PRECISION: Final = "context_precision"
CONTEXT_USE_RATE: Final = "context_use_rate"
LATENCY_MS_P50: Final = "latency_ms_p50"
LATENCY_MS_P95: Final = "latency_ms_p95"
LATENCY_MS_P99: Final = "latency_ms_p99"
LATENCY_MS_REPORTED_P95: Final = "latency_ms_reported_p95"  # the model's own figure, kept aside
TOKENS_IN_PER_REQUEST: Final = "tokens_in_per_request"
TOKENS_OUT_PER_REQUEST: Final = "tokens_out_per_request"
COST_USD_PER_REQUEST: Final = "cost_usd_per_request"
COST_USD_TOTAL: Final = "cost_usd_total"
# Headline metrics get a 95 % interval (Wilson for 0/1 scores, else a bootstrap):
# "<name>_ci_low" / "<name>_ci_high".
CI_METRICS: Final = (QUALITY, EXACT_MATCH, TOKEN_F1)

# Model-version tags written by raygate (MLflow tag keys).
TAG_PREFIX: Final = "raygate."
TAG_AGENT_NAME: Final = "raygate.agent_name"
TAG_CONFIG_HASH: Final = "raygate.config_hash"
TAG_PROMPT_ID: Final = "raygate.prompt_id"
TAG_CORPUS_HASH: Final = "raygate.corpus_hash"
TAG_GOLDSET_HASH: Final = "raygate.goldset_hash"
TAG_EVAL_RUN_ID: Final = "raygate.eval_run_id"
TAG_RAYGATE_VERSION: Final = "raygate.version"
# Eval-run tags: what was evaluated (pinned URI), as which id, on which gold set.
TAG_RUN_KIND: Final = "raygate.run_kind"
RUN_KIND_LOADTEST: Final = "loadtest"
TAG_MODEL_URI: Final = "raygate.model_uri"
TAG_MODEL_ID: Final = "raygate.model_id"
TAG_GOLDSET_NAME: Final = "raygate.goldset_name"
TAG_MISSING_METRICS: Final = "raygate.missing_metrics"
TAG_TRACES_ATTACHED: Final = "raygate.traces_attached"  # "attached/rows with a trace id"
TAG_LOAD_MODEL_IDS: Final = "raygate.load_model_ids"  # JSON list: the versions a load run hit
EVAL_TABLE_ARTIFACT: Final = "eval_table.parquet"
# A built agent's artifact with the JSON Schemas of the tools it may call (contract gate).
TOOL_SCHEMAS_ARTIFACT: Final = "tool_schemas.json"
# Registered-model tag holding one alias's history, e.g. "raygate.alias_history.champion".
TAG_ALIAS_HISTORY_PREFIX: Final = "raygate.alias_history."
ALIAS_HISTORY_MAX_ENTRIES: Final = 20

# The in-cluster canary metrics aggregator: routers send observations to this named actor.
AGGREGATOR_ACTOR: Final = "raygate-canary-metrics"
AGGREGATOR_NAMESPACE: Final = "raygate"

# MLflow wiring.
ENV_HOME: Final = "RAYGATE_HOME"
ENV_EXPERIMENT: Final = "RAYGATE_EXPERIMENT"
ENV_MLFLOW_TRACING: Final = "RAYGATE_MLFLOW_TRACING"  # 1: keep MLflow's tracing of models
DEFAULT_HOME: Final = ".raygate"
DEFAULT_EXPERIMENT: Final = "raygate"
MODEL_ARTIFACT_NAME: Final = "agent"
