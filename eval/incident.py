"""Incident mode: trace a wrong answer a user's own RAG system gave to the passages in their store behind it.

The user names their store (a Chroma server or folder, or a ``module:function`` returning any LangChain vector
store), the embedder it was built with and a reader, and gives the question, the wrong answer the system gave
and the answer it should have given (or the question's options). The question is retrieved from the store as the
system would, the tracer ranks and flags the passages behind the wrong answer (removing the flagged ones,
refilling the context from the store and tracing again while the answer stays wrong, as ``trace RUN_DIR`` does),
and each flagged passage's near copies are looked up in the store. With ``--quarantine`` the flagged passages
are taken out through a journal that ``ragpoison restore`` undoes exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError
from ragpoison.eval.config import ComponentConfig, Strict, read_yaml_mapping
from ragpoison.rag.errors import InputError
from ragpoison.rag.plugin import validation_to_input_error
from ragpoison.rag.types import Question

LETTERS = "ABCDEFGHIJ"


class StoreRef(Strict):
    """The user's store, as a journal names it: a Chroma or PGVector collection, or a factory."""

    type: Literal["chroma", "pgvector", "factory"]
    collection: str | None = None
    connection: str | None = Field(None, description="PGVector: SQLAlchemy URL, e.g. postgresql+psycopg://...")
    host: str | None = None
    port: int = 8000
    ssl: bool = False
    path: str | None = None
    tenant: str | None = None
    database: str | None = None
    factory: str | None = Field(None, description="module:function returning a LangChain vector store")

    def spec(self) -> dict[str, Any]:
        """The journal's description of the store."""
        if self.type == "factory":
            if not self.factory or ":" not in self.factory:
                raise InputError("expected module:function", field="store.factory")
            return {"type": "factory", "factory": self.factory}
        if self.type == "pgvector":
            if not self.collection or not self.connection:
                raise InputError("a PGVector store needs connection and collection", field="store.connection")
            return {"type": "pgvector", "connection": self.connection, "collection": self.collection}
        if not self.collection or not (self.host or self.path):
            raise InputError("a Chroma store needs collection and host (a server) or path (a folder)",
                             field="store.collection")
        spec: dict[str, Any] = {"type": "chroma", "collection": self.collection}
        spec.update({"host": self.host, "port": self.port, "ssl": self.ssl} if self.host else
                    {"path": str(Path(self.path or "").resolve())})
        spec.update({key: value for key, value in (("tenant", self.tenant), ("database", self.database)) if value})
        return spec


class IncidentConfig(Strict):
    """How to read a user's system for incident tracing."""

    store: StoreRef
    embedder: ComponentConfig = ComponentConfig(kind="sentence-transformers")
    generator: ComponentConfig = ComponentConfig(kind="extractive")
    k: int = Field(5, ge=1, description="passages the system's reader reads")
    reserve: int = Field(5, ge=0, description="candidates ranked after them, which refill a quarantined slot")
    method: str = "leave-one-out"


def load_incident_config(path: str | Path) -> IncidentConfig:
    """Read an incident config (YAML), naming the key at fault."""
    try:
        return IncidentConfig.model_validate(read_yaml_mapping(path))
    except ValidationError as exc:
        raise validation_to_input_error(exc, path=str(path)) from None


@dataclass(frozen=True)
class Incident:
    """A wrong answer to trace: the question, the wrong answer given, and the options it was chosen from."""

    id: str
    question: Question
    wrong: str

    @classmethod
    def build(cls, incident_id: str, question: str, answer: str, expected: str | None = None,
              options: dict[str, str] | None = None, *, where: str = "") -> Incident:
        """The question with the wrong answer among its options (added as an option when it is not one)."""
        if not question.strip() or not answer.strip():
            raise InputError("an incident needs a question and the wrong answer", field=f"{where}question")
        choices = dict(options or {})
        if expected:
            choices.setdefault(_free(choices), expected)
        wrong = answer if answer in choices else next((k for k, v in choices.items() if v == answer), None)
        if wrong is None:
            wrong = _free(choices)
            choices[wrong] = answer
        if len(choices) < 2:
            raise InputError("give the answer the system should have given (--expected) or the question's options",
                             field=f"{where}expected")
        gold = next((k for k, v in choices.items() if v == expected), "")
        return cls(incident_id, Question(incident_id, question, choices, gold), wrong)


def _free(options: dict[str, str]) -> str:
    return next(letter for letter in LETTERS if letter not in options)


def load_incidents(path: str | Path) -> list[Incident]:
    """Incidents from JSON Lines: {"question", "answer", optional "expected", "options", "id"} per line."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such incidents file", path=path)
    incidents = []
    for line_no, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw)
        except json.JSONDecodeError:
            raise InputError("malformed JSON", path=path, line=line_no) from None
        if not isinstance(entry, dict) or not isinstance(entry.get("question"), str) \
                or not isinstance(entry.get("answer"), str):
            raise InputError("expected an object with string 'question' and 'answer'", path=path, line=line_no)
        options = entry.get("options")
        if options is not None and not (isinstance(options, dict)
                                        and all(isinstance(v, str) for v in options.values())):
            raise InputError("'options' must map letters to texts", path=path, line=line_no, field="options")
        try:
            incidents.append(Incident.build(str(entry.get("id", f"incident-{line_no}")), entry["question"],
                                            entry["answer"], entry.get("expected"), options))
        except InputError as exc:
            raise InputError(exc.detail, path=path, line=line_no, field=exc.field) from None
    if not incidents:
        raise InputError("no incidents", path=path)
    return incidents


@dataclass(frozen=True)
class FlaggedPassage:
    """A passage flagged as responsible, with what the store says of it."""

    doc_id: str
    score: float
    source: str
    title: str
    text: str


@dataclass(frozen=True)
class IncidentTrace:
    """One incident traced: the ranked suspects, the flagged ones, their copies and the answer once removed."""

    incident: Incident
    suspects: list[tuple[str, float, bool]]
    flagged: list[FlaggedPassage]
    copies: list[tuple[str, str, float]]
    """(flagged id, copy id, cosine) for every other passage of the store this close to a flagged one."""
    answer_before: str
    """The option the reader gives now, from what the store returns for the question."""
    answer_after: str

    def ids(self, with_copies: bool = False) -> list[str]:
        """The flagged ids, then (with ``with_copies``) their copies, each once."""
        found = [f.doc_id for f in self.flagged] + ([c for _, c, _ in self.copies] if with_copies else [])
        return list(dict.fromkeys(found))
