"""The MLflow PythonModel that serves the reference agent from its logged artifacts."""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from raygate.agent.agent import ReferenceAgent
from raygate.agent.corpus import load_corpus
from raygate.agent.generators import make_generator
from raygate.agent.prompts import load_prompt_bundle
from raygate.agent.rag_index import load_rag
from raygate.agent.streaming import StreamClosed
from raygate.config import AgentConfig
from raygate.errors import InputError
from raygate.packaging.streaming import STREAM_FINAL_KEY
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

    def predict_stream(
        self, context: mlflow.pyfunc.PythonModelContext, model_input: Any, params=None
    ) -> Iterator[Any]:
        """One request's answer as text chunks while its final step decodes, then
        `{STREAM_FINAL_KEY: its output row}`; closing the iterator stops the generation."""
        rows = parse_predict_input(
            model_input if isinstance(model_input, pd.DataFrame | list) else [model_input]
        )
        if len(rows) != 1:
            raise InputError(f"predict_stream answers one request, got {len(rows)}")
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        closed = threading.Event()

        def emit(text: str) -> None:
            if closed.is_set():
                raise StreamClosed("the caller stopped reading")
            events.put(("piece", text))

        def answer() -> None:
            try:
                events.put(("final", self.agent.predict_stream(rows[0], emit)))
            except BaseException as exc:  # handed to the reader below
                events.put(("error", exc))

        # The agent runs in a thread of its own with the caller's context (trace parents).
        context_copy = contextvars.copy_context()
        threading.Thread(target=context_copy.run, args=(answer,), daemon=True).start()
        try:
            while True:
                kind, value = events.get()
                if kind == "piece":
                    yield value
                elif kind == "final":
                    yield {STREAM_FINAL_KEY: value.model_dump()}
                    return
                else:
                    raise value
        finally:
            closed.set()
