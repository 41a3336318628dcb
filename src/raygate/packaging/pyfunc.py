"""The MLflow PythonModel that serves the reference agent from its logged artifacts."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd

from raygate.agent.agent import ReferenceAgent
from raygate.agent.corpus import load_corpus
from raygate.agent.generators import make_generator
from raygate.agent.prompts import load_prompt_bundle
from raygate.agent.rag_index import load_rag
from raygate.config import AgentConfig
from raygate.schemas import OUTPUT_FIELDS, parse_predict_input

# Artifact keys: each names one file or folder logged with the model.
ARTIFACT_CONFIG = "agent_config"
ARTIFACT_PROMPTS = "prompt_bundle"
ARTIFACT_CORPUS = "corpus"
ARTIFACT_INDEX = "corpus_index"
ARTIFACT_TOOLS = "tool_schemas"  # the tools' JSON Schemas, for the contract gate
MODEL_ID_KEY = "model_id"


class AgentPyfunc(mlflow.pyfunc.PythonModel):
    """Builds the agent from artifacts only, so it loads anywhere raygate is installed."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        artifacts = context.artifacts
        config = AgentConfig.model_validate_json(Path(artifacts[ARTIFACT_CONFIG]).read_text())
        documents = load_corpus(artifacts[ARTIFACT_CORPUS])
        bundle = load_prompt_bundle(artifacts[ARTIFACT_PROMPTS])
        # The loader passes the resolved registry version; a bare load cannot know it.
        model_id = (context.model_config or {}).get(MODEL_ID_KEY) or f"{config.name}@unregistered"
        generator = make_generator(config.generator, config.seed)
        rag = load_rag(
            config.retriever, documents, Path(artifacts[ARTIFACT_INDEX]), generator.count_tokens
        )
        self.agent = ReferenceAgent(
            config=config,
            rag=rag,
            prompt=bundle.get(config.prompt.id, config.prompt.version),
            generator=generator,
            model_id=model_id,
        )

    def predict(
        self, context: mlflow.pyfunc.PythonModelContext, model_input: pd.DataFrame, params=None
    ) -> pd.DataFrame:
        outputs = self.agent.predict(parse_predict_input(model_input))
        return pd.DataFrame([o.model_dump() for o in outputs], columns=list(OUTPUT_FIELDS))
