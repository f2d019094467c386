"""The one place CLI output is written: tables, progress lines and errors."""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING

from ragpoison.eval.labels import attack_label, poison_amount

if TYPE_CHECKING:
    from ragpoison.eval.forensics import TraceSummary
    from ragpoison.eval.incident import IncidentTrace
    from ragpoison.eval.robustness import CardRow
    from ragpoison.eval.trial import CellSummary

TABLE_COLUMNS = (
    ("attack", "attack"), ("defense", "defense"), ("amount", "poison_per_target"), ("n", "n_questions"),
    ("clean_acc", "clean_accuracy"), ("acc_attack", "accuracy_under_attack"), ("asr", "asr"),
    ("asr_95ci", None), ("tgt_clean", "target_rate_clean"), ("flip", "flip_rate"),
    ("p@k", "poison_precision_at_k"), ("r@k", "poison_recall_at_k"), ("hit", "poison_hit_rate"),
)
READER_AT_CHANCE_NOTE = (
    "! the reader is not above chance on these questions (clean accuracy's 95% lower bound is not above the "
    "uniform-guess or majority-answer rate): its ASR and flip rates say little; use an LLM reader")
# Shown when some cell is defended: passage-level detection rates and the defense's time per question.
DEFENSE_COLUMNS = (("tpr", "defense_tpr"), ("fpr", "defense_fpr"), ("ms/q", "defense_ms_per_question"))


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def summary_table(summary: list[CellSummary]) -> str:
    """Render cell summaries as a fixed-width text table (grid columns shown when they vary)."""
    columns = list(TABLE_COLUMNS)
    if any(cell.defense != "none" for cell in summary):
        columns += DEFENSE_COLUMNS
    rows = [cell.as_row() for cell in summary]
    for grid in ("seed", "k", "retriever", "store", "retrieval_mode"):
        if len({row[grid] for row in rows}) > 1:
            columns.insert(3, (grid, grid))
    if any(cell.unparsed_rate > 0 for cell in summary):  # LLM readers: answers that named no option
        columns.append(("unparsed", "unparsed_rate"))
    if any(cell.n_errored > 0 for cell in summary):  # backends that failed to answer: kept out of every rate
        columns.append(("errored", "n_errored"))
    header = [name for name, _ in columns]
    body = []
    for cell, row in zip(summary, rows, strict=True):
        cells = []
        for name, key in columns:
            if key is None:
                cells.append(f"[{_fmt(cell.asr_ci_low)}, {_fmt(cell.asr_ci_high)}]")
            elif name == "amount":
                cells.append(poison_amount(cell.label_row()))
            elif key == "attack":
                cells.append(attack_label(cell.label_row()))
            elif key == "clean_accuracy" and not cell.reader_above_chance:
                cells.append(f"{_fmt(cell.clean_accuracy)}!")
            else:
                cells.append(_fmt(row[key]))
        body.append(cells)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body, strict=True)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
             for line in [header, *body]]
    if not all(cell.reader_above_chance for cell in summary):
        lines.append(READER_AT_CHANCE_NOTE)
    return "\n".join(lines)


def card_table(rows: list[CardRow]) -> str:
    """The robustness card as a text table: worst case inside each threat model beside the non-adaptive figure."""
    header = ["defense", "worst attack", "worst flip [95% CI]", "aimed at it", "non-adaptive", "clean_acc", "tpr",
              "fpr", "cert_viol", "outside threat model"]
    body = [[row.defense, row.worst_attack,
             f"{_fmt(row.worst_flip_rate)} [{_fmt(row.worst_flip_ci_low)}, {_fmt(row.worst_flip_ci_high)}]",
             f"{_fmt(row.aimed_flip_rate)} ({row.aimed_attack})" if row.aimed_attack else "-",
             f"{_fmt(row.nonadaptive_flip_rate)} ({row.nonadaptive_attack})", _fmt(row.clean_accuracy),
             _fmt(row.defense_tpr), _fmt(row.defense_fpr),
             "-" if row.certificate_violations is None else str(row.certificate_violations),
             row.out_of_threat_model or "-"] for row in rows]
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=True)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
                     for line in [header, *body])


def trace_table(rows: list[TraceSummary]) -> str:
    """Traceback figures per attacked cell as a text table."""
    header = ["attack", "defense", "amount", "method", "traced", "precision", "recall", "recovery",
              "clean_false_flags", "clean_error_flags", "copies", "ms/trace"]
    body = [[attack_label({"attack": r.attack, "attack_params": r.attack_params}), r.defense, r.amount,
             r.method, str(r.n_traced), _fmt(r.trace_precision),
             _fmt(r.trace_recall), _fmt(r.recovery_rate),
             f"{r.clean_false_flags}/{r.clean_trials}" if r.clean_false_flags >= 0 else "-",
             f"{r.clean_error_flags}/{r.clean_errors}" if r.clean_error_flags >= 0 else "-",
             str(r.copies_found), f"{r.ms_per_trace:.1f}"] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=True)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
                     for line in [header, *body])


def incident_report(traces: list[IncidentTrace], method: str, where: str) -> str:
    """Each incident's ranked suspects, flagged passages with provenance, copies and the answer once removed."""
    lines = [f"traced {len(traces)} incident(s) in {where} with {method}"]
    for trace in traces:
        incident = trace.incident
        options = incident.question.options
        lines += ["", f"{incident.id}: {incident.question.question}",
                  f"  answered: {options[incident.wrong]}"]
        if trace.answer_before != incident.wrong:
            lines.append(f"  ! read from the store now, the reader answers {options.get(trace.answer_before, '-')!r}, "
                         "not the wrong answer: the passages behind it may be gone, or the system reads differently")
        lines.append("  suspects (most responsible first): "
                     + ", ".join(f"{doc_id} {score:+.3f}{' FLAGGED' if flagged else ''}"
                                 for doc_id, score, flagged in trace.suspects))
        for passage in trace.flagged:
            text = passage.text if len(passage.text) <= 100 else passage.text[:97] + "..."
            lines.append(f"  flagged {passage.doc_id}  source={passage.source or '-'}  retrieval={passage.score:.3f}"
                         f"  {passage.title + ': ' if passage.title else ''}{text}")
        for flagged_id, copy_id, cosine in trace.copies:
            lines.append(f"  copy of {flagged_id}: {copy_id} (cosine {cosine:.3f})")
        if not trace.flagged:
            lines.append("  nothing flagged")
        after = options.get(trace.answer_after, "-")
        lines.append(f"  answer with the flagged passages removed: {after}")
    return "\n".join(lines)


def emit(text: str = "") -> None:
    """Write a line of normal output."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def progress(text: str) -> None:
    """Write a progress line to stderr."""
    sys.stderr.write(f"[ragpoison] {text}\n")
    sys.stderr.flush()


def error(text: str) -> None:
    """Write a one-line error to stderr."""
    sys.stderr.write(f"ragpoison: error: {text}\n")
    sys.stderr.flush()
