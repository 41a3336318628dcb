"""Knowledge-base documents: loading, validation and their "Field: value" facts."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, ValidationError

from raygate.errors import CorpusError
from raygate.schemas import StrictModel, describe_validation_error

BUILTIN_CORPUS = Path(__file__).resolve().parent.parent / "goldset" / "data" / "corpus.jsonl"


class DocumentRecord(StrictModel):
    """One corpus line as stored in JSONL."""

    id: str = Field(min_length=1, description="Unique document id, cited by answers.")
    title: str = Field(min_length=1, description="Short title; the subject of the document.")
    kind: str = Field("document", description="Free-form kind, e.g. product, policy, procedure.")
    text: str = Field(min_length=1, description="Body; lines of the form 'Field: value' are facts.")


@dataclass(frozen=True)
class Fact:
    """One 'Field: value' line of a document."""

    field: str
    value: str


@dataclass(frozen=True)
class Document:
    """A validated corpus document."""

    id: str
    title: str
    kind: str
    text: str

    @property
    def facts(self) -> tuple[Fact, ...]:
        facts = []
        for line in self.text.splitlines():
            field, sep, value = line.partition(": ")
            if sep and field.strip() and value.strip():
                facts.append(Fact(field.strip(), value.strip().rstrip(".")))
        return tuple(facts)


def document_block(document: Document) -> str:
    """How a document appears to a model, in the prompt and in tool results: [id], then text."""
    return f"[{document.id}]\n{document.text}"


def load_corpus(path: str | Path) -> list[Document]:
    """Read and validate a corpus JSONL file; a bad line is reported as file:line and field."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"corpus file {path} does not exist; pass a JSONL file of documents")
    documents: list[Document] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            record = _parse_line(path, lineno, line)
            if record.id in seen:
                raise CorpusError(
                    f"{path}:{lineno}: duplicate document id '{record.id}' "
                    f"(first on line {seen[record.id]}); ids must be unique"
                )
            seen[record.id] = lineno
            documents.append(Document(record.id, record.title, record.kind, record.text))
    if not documents:
        raise CorpusError(f"corpus file {path} has no documents")
    return documents


def corpus_hash(documents: list[Document]) -> str:
    """Content hash of a corpus, independent of file formatting."""
    digest = hashlib.sha256()
    for doc in documents:
        line = json.dumps([doc.id, doc.title, doc.kind, doc.text], ensure_ascii=False)
        digest.update(line.encode("utf-8") + b"\n")
    return "sha256:" + digest.hexdigest()


def _parse_line(path: Path, lineno: int, line: str) -> DocumentRecord:
    try:
        return DocumentRecord.model_validate_json(line)
    except ValidationError as exc:
        raise CorpusError(
            f"{path}:{lineno}: {describe_validation_error(exc)}; each line needs id, title and text"
        ) from None
