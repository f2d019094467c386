"""Small builders that write tiny MedRAG corpora and MIRAGE question files for tests."""

from __future__ import annotations

import json
from pathlib import Path

PASSAGES = [
    ("tox_1", "Acetaminophen overdose", "N-acetylcysteine is the antidote for acetaminophen overdose and is most "
     "effective when started within eight hours of ingestion, replenishing glutathione stores.", "statpearls"),
    ("tox_2", "Acetaminophen toxicity", "Serum acetaminophen concentration at four hours is plotted on the "
     "Rumack-Matthew nomogram to decide on treatment after a single acute ingestion.", "textbook"),
    ("tox_3", "Opioid overdose", "Naloxone reverses respiratory depression from opioid overdose and can be given "
     "intravenously, intramuscularly or intranasally.", "guideline"),
    ("tox_4", "Opioid toxidrome", "Opioid toxicity presents with miosis, reduced respiratory rate and depressed "
     "consciousness; ventilation is supported while naloxone takes effect.", "pubmed"),
    ("tox_5", "Benzodiazepine overdose", "Flumazenil can precipitate seizures in patients who use benzodiazepines "
     "chronically, so supportive care is the mainstay of benzodiazepine overdose.", "statpearls"),
    ("tox_6", "Methanol poisoning", "Fomepizole inhibits alcohol dehydrogenase and is the preferred antidote for "
     "methanol and ethylene glycol poisoning; hemodialysis removes the toxic alcohols.", "guideline"),
    ("card_1", "Heparin reversal", "Protamine sulfate neutralises unfractionated heparin and is used when "
     "bleeding follows a heparin overdose.", "textbook"),
    ("card_2", "Digoxin toxicity", "Digoxin immune Fab binds digoxin and is indicated for life-threatening "
     "digoxin toxicity with arrhythmias or marked hyperkalemia.", "pubmed"),
    ("card_3", "Type 2 diabetes", "Metformin is the usual first-line drug for type 2 diabetes and should not be "
     "used when the estimated glomerular filtration rate is below 30.", "guideline"),
    ("card_4", "Hypertension", "Thiazide diuretics, ACE inhibitors, angiotensin receptor blockers and calcium "
     "channel blockers are first-line drugs for hypertension.", "guideline"),
]

QUESTIONS = {
    "0001": ("What is the antidote for acetaminophen overdose?",
             {"A": "Naloxone", "B": "N-acetylcysteine", "C": "Flumazenil", "D": "Fomepizole"}, "B"),
    "0002": ("Which drug reverses respiratory depression in opioid overdose?",
             {"A": "Flumazenil", "B": "Protamine sulfate", "C": "Naloxone", "D": "Fomepizole"}, "C"),
    "0003": ("Which antidote is preferred for ethylene glycol poisoning?",
             {"A": "Fomepizole", "B": "Naloxone", "C": "Protamine sulfate", "D": "Digoxin immune Fab"}, "A"),
    "0004": ("Which agent neutralises unfractionated heparin?",
             {"A": "N-acetylcysteine", "B": "Naloxone", "C": "Digoxin immune Fab", "D": "Protamine sulfate"}, "D"),
}
TARGETS = {"0001": {"target": "C", "severity": "high"}, "0002": {"target": "A", "severity": "high"},
           "0003": {"target": "B", "severity": "medium"}}


def medrag_line(doc_id: str, title: str, content: str, source: str | None = None, **extra) -> str:
    """One MedRAG JSONL line."""
    record = {"id": doc_id, "title": title, "content": content, "contents": f"{title}. {content}"}
    if source is not None:
        record["source"] = source
    record.update(extra)
    return json.dumps(record)


def write_corpus(folder: Path, passages=PASSAGES) -> Path:
    """Write a one-file MedRAG corpus and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "corpus.jsonl"
    path.write_text("\n".join(medrag_line(i, t, c, s, published="2020-01-01") for i, t, c, s in passages) + "\n")
    return path


def write_questions(folder: Path, questions=QUESTIONS, dataset: str = "tiny") -> Path:
    """Write a MIRAGE benchmark.json and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "benchmark.json"
    data = {dataset: {qid: {"question": q, "options": o, "answer": a} for qid, (q, o, a) in questions.items()}}
    path.write_text(json.dumps(data, indent=1))
    return path


def write_targets(folder: Path, targets=TARGETS) -> Path:
    """Write a targets file and return its path."""
    path = folder / "targets.json"
    path.write_text(json.dumps(targets))
    return path


def write_dataset(folder: Path) -> dict[str, Path]:
    """Write corpus, questions and targets into ``folder``."""
    return {"corpus": write_corpus(folder), "questions": write_questions(folder), "targets": write_targets(folder)}
