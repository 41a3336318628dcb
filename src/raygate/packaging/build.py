"""Build an agent from its config: stage artifacts, log the pyfunc to MLflow, return its URI."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from raygate import __version__
from raygate.agent.corpus import BUILTIN_CORPUS, corpus_hash, load_corpus
from raygate.agent.prompts import BUILTIN_BUNDLE, load_prompt_bundle
from raygate.agent.rag_index import build_indexes
from raygate.agent.tools import Toolbox, reference_tools
from raygate.config import AgentConfig
from raygate.constants import (
    MODEL_ARTIFACT_NAME,
    TAG_AGENT_NAME,
    TAG_CONFIG_HASH,
    TAG_CORPUS_HASH,
    TAG_PROMPT_ID,
    TAG_RAYGATE_VERSION,
    TOOL_SCHEMAS_ARTIFACT,
)
from raygate.packaging import pyfunc
from raygate.packaging.signature import agent_signature
from raygate.tracking import configure_mlflow

ENTRY_FILE = Path(pyfunc.__file__).with_name("model_entry.py")
INPUT_EXAMPLE = pd.DataFrame({"query": ["What is the return window for Kitchen products?"]})


@dataclass(frozen=True)
class BuiltAgent:
    """A logged agent model: where it is and the tags that identify what went into it."""

    model_uri: str
    run_id: str
    tags: dict[str, str]


def stage_artifacts(config: AgentConfig, directory: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Validate everything the config points to and write the artifacts; returns (paths, tags).

    Every check happens here, before anything is logged, so a bad config writes nothing.
    """
    documents = load_corpus(BUILTIN_CORPUS if config.corpus == "builtin" else config.corpus)
    bundle = BUILTIN_BUNDLE if config.prompt.bundle == "builtin" else Path(config.prompt.bundle)
    template = load_prompt_bundle(bundle).get(config.prompt.id, config.prompt.version)
    template.check_bound()
    paths = {
        pyfunc.ARTIFACT_CONFIG: directory / "agent_config.json",
        pyfunc.ARTIFACT_PROMPTS: directory / "prompt_bundle.yaml",
        pyfunc.ARTIFACT_CORPUS: directory / "corpus.jsonl",
        pyfunc.ARTIFACT_INDEX: directory / "indexes",
        pyfunc.ARTIFACT_TOOLS: directory / TOOL_SCHEMAS_ARTIFACT,
    }
    paths[pyfunc.ARTIFACT_CONFIG].write_text(config.model_dump_json(indent=2))
    # the template the agent renders, alone: what went into the model, and all the contract
    # gate checks (another template of a user's bundle is not part of this release)
    used = {"templates": [template.model_dump()]}
    paths[pyfunc.ARTIFACT_PROMPTS].write_text(yaml.safe_dump(used, sort_keys=False))
    with paths[pyfunc.ARTIFACT_CORPUS].open("w", encoding="utf-8") as handle:
        for doc in documents:
            record = {"id": doc.id, "title": doc.title, "kind": doc.kind, "text": doc.text}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    build_indexes(config.retriever, documents, paths[pyfunc.ARTIFACT_INDEX])
    # The schemas the agent's toolbox derives, exactly as the model will see them.
    schemas = Toolbox(reference_tools(lambda query, k: [], documents), config.tools).schemas()
    paths[pyfunc.ARTIFACT_TOOLS].write_text(json.dumps(list(schemas), indent=2))
    tags = {
        TAG_AGENT_NAME: config.name,
        TAG_CONFIG_HASH: config.content_hash(),
        TAG_PROMPT_ID: template.prompt_id,
        TAG_CORPUS_HASH: corpus_hash(documents),
        TAG_RAYGATE_VERSION: __version__,
    }
    return {key: str(path) for key, path in paths.items()}, tags


def log_agent_model(config: AgentConfig) -> BuiltAgent:
    """Log the agent as a pyfunc in a new MLflow run of raygate's experiment."""
    import mlflow

    with tempfile.TemporaryDirectory(prefix="raygate-build-") as tmp:
        artifacts, tags = stage_artifacts(config, Path(tmp))
        configure_mlflow()
        with mlflow.start_run(run_name=f"build-{config.name}") as run:
            mlflow.log_params(_flatten(config.model_dump(mode="json", exclude={"description"})))
            mlflow.set_tags(tags)
            info = mlflow.pyfunc.log_model(
                name=MODEL_ARTIFACT_NAME,
                python_model=str(ENTRY_FILE),
                artifacts=artifacts,
                signature=agent_signature(),
                input_example=INPUT_EXAMPLE,
                pip_requirements=pip_requirements(config, mlflow.__version__),
                # Declared so that a loader may pass the resolved name@version at load time.
                model_config={pyfunc.MODEL_ID_KEY: ""},
            )
    return BuiltAgent(model_uri=info.model_uri, run_id=run.info.run_id, tags=tags)


def pip_requirements(config: AgentConfig, mlflow_version: str) -> list[str]:
    """What a serving environment installs: raygate with the extras this agent needs."""
    engines = {g.kind for g in (config.generator, config.fallback) if g is not None}
    extras = sorted(
        ({"embed"} if config.retriever.kind != "bm25" else set())
        | ({"llm"} if "transformers" in engines else set())
        | ({"gpu"} if "vllm" in engines else set())
    )
    raygate = f"raygate[{','.join(extras)}]" if extras else "raygate"
    return [f"{raygate}=={__version__}", f"mlflow=={mlflow_version}"]


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
