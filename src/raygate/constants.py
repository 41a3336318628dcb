"""Names shared across stages: predict() fields, metric names with units, tag and alias keys."""

from typing import Final

# Aliases: the only way a model version reaches traffic.
ALIAS_CHAMPION: Final = "champion"
ALIAS_CANDIDATE: Final = "candidate"

# The stable predict() schema.
INPUT_QUERY: Final = "query"
INPUT_OPTIONAL_FIELDS: Final = ("request_id", "user_id", "session_id")

# What the reference agent answers when it abstains or refuses.
ABSTAIN_ANSWER: Final = "I don't know."
REFUSAL_ANSWER: Final = "I can't help with that request."

# Per-request figures, each name carrying its unit.
LATENCY_MS_TOTAL: Final = "latency_ms_total"
TOKENS_IN: Final = "tokens_in"
TOKENS_OUT: Final = "tokens_out"
COST_USD: Final = "cost_usd"

# Aggregate quality metrics (fractions in [0, 1]).
EXACT_MATCH: Final = "exact_match"
TOKEN_F1: Final = "token_f1"
HIT_AT_K: Final = "hit_at_k"

# Model-version tags written by raygate (MLflow tag keys).
TAG_PREFIX: Final = "raygate."
TAG_AGENT_NAME: Final = "raygate.agent_name"
TAG_CONFIG_HASH: Final = "raygate.config_hash"
TAG_PROMPT_ID: Final = "raygate.prompt_id"
TAG_CORPUS_HASH: Final = "raygate.corpus_hash"
TAG_GOLDSET_HASH: Final = "raygate.goldset_hash"
TAG_EVAL_RUN_ID: Final = "raygate.eval_run_id"
TAG_RAYGATE_VERSION: Final = "raygate.version"
# Registered-model tag holding one alias's history, e.g. "raygate.alias_history.champion".
TAG_ALIAS_HISTORY_PREFIX: Final = "raygate.alias_history."
ALIAS_HISTORY_MAX_ENTRIES: Final = 20

# MLflow wiring.
ENV_HOME: Final = "RAYGATE_HOME"
ENV_EXPERIMENT: Final = "RAYGATE_EXPERIMENT"
DEFAULT_HOME: Final = ".raygate"
DEFAULT_EXPERIMENT: Final = "raygate"
MODEL_ARTIFACT_NAME: Final = "agent"
