"""The one place CLI output is written: tables, progress lines and errors."""

from __future__ import annotations

import math
import sys

from ragpoison.eval.labels import attack_label, poison_amount

TABLE_COLUMNS = (
    ("attack", "attack"), ("defense", "defense"), ("amount", "poison_per_target"), ("n", "n_questions"),
    ("clean_acc", "clean_accuracy"), ("acc_attack", "accuracy_under_attack"), ("asr", "asr"),
    ("asr_95ci", None), ("tgt_clean", "target_rate_clean"), ("flip", "flip_rate"),
    ("p@k", "poison_precision_at_k"), ("r@k", "poison_recall_at_k"), ("hit", "poison_hit_rate"),
)
# Shown when some cell is defended: passage-level detection rates and the defense's time per question.
DEFENSE_COLUMNS = (("tpr", "defense_tpr"), ("fpr", "defense_fpr"), ("ms/q", "defense_ms_per_question"))


def _fmt(value) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def summary_table(rows: list[dict]) -> str:
    """Render cell summaries as a fixed-width text table (grid columns shown when they vary)."""
    columns = list(TABLE_COLUMNS)
    if any(row.get("defense", "none") != "none" for row in rows):
        columns += DEFENSE_COLUMNS
    for key in ("seed", "k", "retriever", "store", "retrieval_mode"):
        if len({row.get(key) for row in rows}) > 1:
            columns.insert(3, (key, key))
    if any((row.get("unparsed_rate") or 0) > 0 for row in rows):  # LLM readers: answers that named no option
        columns.append(("unparsed", "unparsed_rate"))
    header = [name for name, _ in columns]
    body = []
    for row in rows:
        cells = []
        for name, key in columns:
            if key is None:
                cells.append(f"[{_fmt(row['asr_ci_low'])}, {_fmt(row['asr_ci_high'])}]")
            else:
                value = row.get(key)
                if name == "amount":
                    cells.append(poison_amount(row))
                else:
                    cells.append(attack_label(row) if key == "attack" else _fmt(value))
        body.append(cells)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body, strict=True)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
             for line in [header, *body]]
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
