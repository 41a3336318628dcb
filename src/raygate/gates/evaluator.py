"""The release playbook's Evaluator on Ray Data + MLflow: `raygate eval` and `raygate gate`
as calls, and the build tags a registered version inherits from the run that logged it."""

from __future__ import annotations

from collections.abc import Callable

from raygate.constants import ALIAS_CHAMPION
from raygate.gates.policy import GatePolicy
from raygate.gates.run import GateOutcome, gate_eval_run
from raygate.registry.protocol import ModelRegistry
from raygate.release import EvalResources


class MlflowEvaluator:
    """Evaluates on the local or connected Ray cluster, gates against NAME@champion."""

    def __init__(
        self,
        registry: ModelRegistry,
        policy: GatePolicy,
        on_rows: Callable[[int], None] | None = None,
        input_map: dict[str, str] | None = None,
        on_wait: Callable[[str], None] | None = None,
        resources: EvalResources | None = None,
    ) -> None:
        self.registry, self.policy, self._on_rows = registry, policy, on_rows
        self._input_map, self._on_wait = input_map or {}, on_wait
        self._resources = resources or EvalResources()

    def evaluate(self, model_uri: str, gold: str) -> str:
        from raygate.evaluation.pipeline import PipelineOptions
        from raygate.evaluation.runner import evaluate

        set_by = ("the release file's eval.workers", "eval.num_cpus or eval.num_gpus")
        options = PipelineOptions(**self._resources.model_dump(), set_by=set_by)
        result = evaluate(model_uri, gold, self.registry, options, on_rows=self._on_rows,
                          input_map=self._input_map, on_wait=self._on_wait)  # fmt: skip
        return result.run_id

    def gate(self, run_id: str, name: str) -> GateOutcome:
        return gate_eval_run(run_id, self.policy, self.registry, name, ALIAS_CHAMPION)


def logged_run_tags(model_uri: str) -> dict[str, str]:
    """The tags of the run that logged the model (its build tags)."""
    import mlflow

    from raygate.packaging.loading import model_info

    run_id = model_info(model_uri).run_id
    return dict(mlflow.get_run(run_id).data.tags) if run_id else {}
