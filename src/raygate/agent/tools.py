"""Tools the agent may call: built from typed functions, strict JSON Schema, validated calls.

A validation error goes back to the model as a message saying what to fix; a call to a tool
outside the agent's allow-list is refused and recorded.
"""

from __future__ import annotations

import ast
import inspect
import json
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ConfigDict, ValidationError, create_model

from raygate.agent.corpus import Document, document_block
from raygate.agent.retrieval import Retrieved
from raygate.schemas import describe_validation_error


@dataclass(frozen=True)
class ToolCall:
    """A model's request to run one tool with JSON arguments."""

    name: str
    arguments: dict[str, Any]

    def key(self) -> str:
        """Identity of the call, for loop detection."""
        return f"{self.name}:{json.dumps(self.arguments, sort_keys=True, default=str)}"


@dataclass(frozen=True)
class ToolResult:
    """What the model observes: the content, or what went wrong and how to fix it."""

    call: ToolCall
    ok: bool
    content: str
    refused: bool = False


@dataclass(frozen=True)
class Tool:
    """A typed Python function exposed to the model."""

    name: str
    description: str
    fn: Callable[..., str]
    arguments_model: type
    parameters: dict[str, Any]  # strict JSON Schema of the arguments (unknown keys refused)

    @classmethod
    def from_function(cls, fn: Callable[..., str]) -> Tool:
        fields = {
            name: (
                param.annotation,
                ... if param.default is inspect.Parameter.empty else param.default,
            )
            for name, param in inspect.signature(fn).parameters.items()
        }
        model = create_model(
            f"{fn.__name__}_arguments", __config__=ConfigDict(extra="forbid"), **fields
        )
        description = (inspect.getdoc(fn) or fn.__name__).splitlines()[0]
        return cls(fn.__name__, description, fn, model, model.model_json_schema())

    def schema(self) -> dict[str, Any]:
        """The OpenAI-style function declaration."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    def call(self, call: ToolCall) -> ToolResult:
        try:
            arguments = self.arguments_model.model_validate(call.arguments)
        except ValidationError as exc:
            problem = describe_validation_error(exc)
            message = f"invalid arguments for {self.name}: {problem}; fix them and call again"
            return ToolResult(call, False, message)
        try:
            return ToolResult(call, True, self.fn(**arguments.model_dump()))
        except ValueError as exc:
            return ToolResult(call, False, f"{self.name} failed: {exc}")


class Toolbox:
    """The tools an agent has, limited to its allow-list."""

    def __init__(self, tools: Sequence[Tool], allowed: Sequence[str]) -> None:
        self._tools = {tool.name: tool for tool in tools}
        unknown = sorted(set(allowed) - self._tools.keys())
        if unknown:
            raise ValueError(
                f"unknown tool(s) {', '.join(unknown)}; known: {', '.join(self._tools)}"
            )
        self.allowed = tuple(allowed)
        self._schemas = tuple(self._tools[name].schema() for name in self.allowed)

    def schemas(self) -> tuple[dict[str, Any], ...]:
        """The allowed tools' declarations, derived once."""
        return self._schemas

    def call(self, call: ToolCall) -> ToolResult:
        if call.name not in self.allowed:
            message = f"tool '{call.name}' is not allowed; allowed tools: {', '.join(self.allowed)}"
            return ToolResult(call, False, message, refused=True)
        return self._tools[call.name].call(call)


_OPERATORS: dict[type, Callable[..., float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Pow: operator.pow,
    ast.USub: operator.neg, ast.UAdd: operator.pos,
}  # fmt: skip


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 100:
            raise ValueError("exponent too large")
        return _OPERATORS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.operand))
    raise ValueError(f"unsupported element {type(node).__name__}; use numbers, + - * / ** and ()")


def calculate(expression: str) -> str:
    """Evaluate arithmetic such as '3 * 49.99 + 12' (numbers, + - * / ** and parentheses)."""
    if len(expression) > 200:
        raise ValueError("expression longer than 200 characters")
    try:
        tree = ast.parse(expression.replace(",", ""), mode="eval")
    except SyntaxError:
        raise ValueError(f"cannot parse {expression!r} as arithmetic") from None
    try:
        value = _evaluate(tree.body)
    except ZeroDivisionError:
        raise ValueError("division by zero") from None
    return f"{value:.10g}"


def reference_tools(
    search: Callable[[str, int], list[Retrieved]], documents: Sequence[Document]
) -> list[Tool]:
    """search_documents (backed by `search`), fetch_document and calculate over the corpus."""
    by_id = {doc.id: doc for doc in documents}

    def search_documents(query: str, k: int = 4) -> str:
        """Search the knowledge base; returns the best documents with their ids."""
        if not 1 <= k <= 20:
            raise ValueError("k must be between 1 and 20")
        hits = search(query, k)
        return "\n\n".join(document_block(h.document) for h in hits) or "no documents found"

    def fetch_document(doc_id: str) -> str:
        """Fetch one document by its id."""
        if doc_id not in by_id:
            raise ValueError(f"no document '{doc_id}'; use an id returned by search_documents")
        return document_block(by_id[doc_id])

    return [Tool.from_function(f) for f in (search_documents, fetch_document, calculate)]
