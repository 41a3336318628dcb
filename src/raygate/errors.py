"""The one raygate error tree; every message says what was wrong and how to fix it."""

import re


class RaygateError(Exception):
    """Base of every error raygate raises on purpose; the CLI prints it as one line."""


class ConfigError(RaygateError):
    """An agent config, policy or other YAML input is malformed."""


class GoldSetError(RaygateError):
    """A gold-set file is missing or has a malformed line."""


class CorpusError(RaygateError):
    """A corpus file is missing or has a malformed document."""


class PromptError(RaygateError):
    """A prompt template is unknown or has an unbound variable."""


class GeneratorError(RaygateError):
    """A generator failed to produce an answer."""


class TransientGeneratorError(GeneratorError):
    """A generator failure worth retrying (overload, connection reset, rate limit)."""


class InputError(RaygateError):
    """Prediction input rows do not match the predict() schema."""


class RegistryError(RaygateError):
    """A model registry operation failed."""


class UnknownModelError(RegistryError):
    """No registered model has the requested name."""


class UnknownAliasError(RegistryError):
    """The registered model has no such alias."""


class UnknownVersionError(RegistryError):
    """The registered model has no such version."""


class RollbackError(RegistryError):
    """Rollback is impossible: no recorded previous version, or history was changed outside."""


class ModelOutputError(RaygateError):
    """A model's predict() returned something that cannot be read as one answer per row."""


class EvaluationError(RaygateError):
    """An evaluation run could not start or complete."""


class GateError(RaygateError):
    """A gate policy or the evidence it needs is missing or malformed."""


class ModelLoadError(RaygateError):
    """A model URI could not be resolved or loaded."""


class ModelFailedError(RaygateError):
    """The model's own code raised while answering."""


class ClusterError(RaygateError):
    """Ray could not be joined or started."""


class ServeError(RaygateError):
    """The Ray cluster or its Serve API refused or could not be reached."""


class UnservableVersionError(ServeError):
    """A variant's replicas could not load the version they were asked to serve (they keep
    serving the one they had)."""


class LoadTestError(RaygateError):
    """A load test could not be set up (workload, target) or run."""


class ReleaseError(RaygateError):
    """A release cannot start, resume or take a command (the message says why and what to do)."""


class MetricsError(RaygateError):
    """A metric provider could not measure: a measurement error at that look, never a verdict."""


class TrackingError(RaygateError):
    """MLflow's tracking store could not be reached or refused a request."""


# A traceback's exception line, `ValueError: …` or `raygate.errors.GoldSetError: …`: its
# exception's name and words.
RAISED_LINE = re.compile(r"^(?:\w+\.)*(\w+(?:Error|Exception)): (.*)$", re.MULTILINE)


def traceback_cause(text: str) -> str:
    """The exception a traceback's text ends in (raygate's own errors by their message alone),
    for errors Ray hands over as text (a replica or actor that failed); notes Ray adds after
    it (Ray Data's retry hints) are passed over."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    raised = [line for line in lines if RAISED_LINE.match(line)]
    cause = raised[-1] if raised else lines[-1] if lines else text
    return cause.split(": ", 1)[-1] if cause.startswith("raygate.errors.") else cause


def root_cause(exc: BaseException) -> str:
    """The innermost cause's name and words: ConnectionRefusedError, not urllib3's wrappers."""
    root = exc
    while (inner := root.__cause__ or root.__context__) is not None:
        root = inner
    return f"{type(root).__name__}: {root}"
