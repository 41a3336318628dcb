"""How a model's outcome leaves on the wire: failures are never 2xx (the model's own error
502, a step timeout or the deadline 504, the agent's rate limit 429 with Retry-After); limits
that still answer stay 200 and say so in their finish reason."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

# A status for each of constants.FAILED_FINISH_REASONS (a test holds the two together).
FAILURE_STATUS = {"error": 502, "step_timeout": 504, "deadline": 504, "rate_limited": 429}
# The caller's mistakes a replica finds (a required model input left empty): 4xx, which the
# canary judge leaves out, as it does the router's own 422s.
CALLER_ERROR_STATUS = {"invalid_request": 422}
_STATUS = FAILURE_STATUS | CALLER_ERROR_STATUS
_RETRY_AFTER = re.compile(r"retry after (?P<seconds>\d+(?:\.\d+)?)\s*s")


@dataclass(frozen=True)
class Failure:
    """A prediction that is a failure: its status, finish reason and what went wrong."""

    status: int
    finish_reason: str
    message: str
    retry_after_s: int | None = None


def failure_of(prediction: dict[str, Any], variant: str) -> Failure | None:
    """The failure a prediction row reports, or None when it is an answer. A row without a
    finish reason (a user's own pyfunc) fails when it carries an error."""
    reason = prediction.get("finish_reason")
    error = prediction.get("error")
    if reason in _STATUS:
        status = _STATUS[reason]
    elif reason is None and error:
        reason, status = "error", 502
    else:
        return None
    detail = f": {error}" if error else ""
    retry = None
    if status == 429:
        match = _RETRY_AFTER.search(str(error or ""))
        retry = max(1, math.ceil(float(match["seconds"]))) if match else 1
    return Failure(status, reason, f"the {variant} model ended with {reason}{detail}", retry)
