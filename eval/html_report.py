"""``ragpoison report DIR``: an HTML page with the run's figures and tables, all inline (no network)."""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from ragpoison.eval.labels import amount_label, attack_label
from ragpoison.eval.report_data import SEVERITY_WEIGHTS, attacked_points, clean_accuracy, no_poison_baseline
from ragpoison.eval.report_figures import asr_against_amount, clean_cost, colours, harm_by_severity, recall_against_asr
from ragpoison.eval.results import Results, atomic_write
from ragpoison.eval.trial import CellSummary

CELL_COLUMNS = ["attack", "attack_params", "defense", "amount", "retriever", "retrieval_mode", "store", "k", "seed",
                "n_questions", "n_errored", "clean_accuracy", "accuracy_under_attack", "asr", "asr_ci_low",
                "asr_ci_high", "target_rate_clean", "flip_rate", "poison_recall_at_k", "poison_hit_rate", "defense_tpr",
                "defense_fpr"]
STYLE = """body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;max-width:1180px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.meta{color:#555;font-size:14px}.caption{color:#444;font-size:14px;max-width:60em}
figure{margin:1em 0}figure svg{max-width:100%;height:auto}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:12px;font-variant-numeric:tabular-nums}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#f3f3f3;position:sticky;top:0}td:nth-child(-n+2),th:nth-child(-n+2){text-align:left}
tr:nth-child(even) td{background:#fafafa}"""


def _fmt(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return html.escape(str(value))


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _amount(cell: CellSummary) -> str:
    if cell.attack == "none":
        return "–"
    return amount_label(cell.poison_per_target, cell.poison_rate)


def _section(anchor: str, title: str, caption: str, body: str) -> str:
    return (f'<h2 id="{anchor}-title">{html.escape(title)}</h2><p class="caption">{caption}</p>'
            f'<figure id="{anchor}">{body}</figure>')


CARD_COLUMNS = ["defense", "worst case (flip, 95% CI)", "worst attack", "aimed_flip_rate", "aimed_attack",
                "non-adaptive flip", "non-adaptive attack",
                "clean_accuracy", "clean_accuracy_cost", "defense_tpr", "defense_fpr", "certificate_violations",
                "out_of_threat_model"]


def _robustness_card(out_dir: Path) -> str:
    """The robustness card section, when the folder holds a ``ragpoison robustness`` run; empty otherwise."""
    from ragpoison.eval.robustness import read_card

    path = out_dir / "robustness.csv"
    if not path.is_file():
        return ""
    rows = [{**row, "worst case (flip, 95% CI)":
             f"{row['worst_flip_rate']} [{row['worst_flip_ci_low']}, {row['worst_flip_ci_high']}]",
             "non-adaptive flip": row["nonadaptive_flip_rate"], "non-adaptive attack": row["nonadaptive_attack"]}
            for row in read_card(path)]
    caption = ("Each defense's worst flip rate over the attacks inside its threat model, adaptive attacks aimed at "
               "it included, at every poison amount, beside the worst non-adaptive attack at the reference amount "
               "(what a table of easy cases shows). Attacks the defense does not claim to stop are listed apart "
               "with their flip rates.")
    return (f'<h2 id="robustness-card">Robustness card</h2><p class="caption">{caption}</p>'
            f"{_table(rows, CARD_COLUMNS)}")


TRACE_COLUMNS = ["attack", "defense", "amount", "method", "n_traced", "trace_precision", "trace_recall",
                 "recovery_rate", "clean false flags", "flags on the reader's own errors", "copies_found",
                 "copies_poison", "ms_per_trace"]


def _traceback(out_dir: Path) -> str:
    """The traceback section, when ``ragpoison trace`` has written trace_summary.csv here; empty otherwise."""
    import csv

    path = out_dir / "trace_summary.csv"
    if not path.is_file():
        return ""
    with path.open(newline="") as handle:
        rows = [{**row, "attack": attack_label(row),
                 "clean false flags": f"{row['clean_false_flags']} / {row['clean_trials']} trials",
                 "flags on the reader's own errors": f"{row['clean_error_flags']} / {row['clean_errors']} trials"}
                for row in csv.DictReader(handle)]
    caption = ("Every wrong answer under attack traced to the passages that reached the reader (ragpoison trace). "
               "Precision: share of flagged passages that are poison; recall: share of the poison in the traced "
               "contexts that is flagged; recovery: share of traced questions answered correctly once the flagged "
               "passages are out of the index. False flags are counted on held-out clean trials: correct ones, "
               "alleging the attacker's target, and those the reader got wrong by itself (no poison exists there). "
               "Copies: other index passages at high cosine to a flagged one, and the share of them that is poison.")
    return (f'<h2 id="traceback">Traceback</h2><p class="caption">{caption}</p>'
            f"{_table(rows, TRACE_COLUMNS)}")


def write_report(out_dir: str | Path) -> Path:
    """Render ``DIR/report.html`` from the results in DIR."""
    results = Results.read(out_dir)
    trials, manifest = results.trials, results.manifest
    points = attacked_points(trials)
    accuracies = clean_accuracy(trials)
    colour = colours([trial.defense for trial in trials])
    severity_counts = {s: len({t.qid for t in trials if t.severity == s}) for s in SEVERITY_WEIGHTS}
    seeds = sorted({trial.seed for trial in trials})
    pooled = f"pooled over seeds {', '.join(map(str, seeds))}" if len(seeds) > 1 else f"seed {seeds[0]}"
    sections = [_section(
        "clean-cost", "Clean-accuracy cost of each defense",
        f"Accuracy with no poison, {pooled}; the cost is the undefended accuracy minus the defended one.",
        clean_cost(accuracies, colour))]
    if points:
        sections = [_section(
            "asr-vs-amount", "Attack success rate against poison amount",
            f"ASR (answer = the attacker's target) per attack and defense, {pooled}, with 95% Wilson bands. "
            "N = 0 is how often the reader picks the target with no poison at all.",
            asr_against_amount(points, no_poison_baseline(trials), colour)), *sections, _section(
            "recall-vs-asr", "Retrieval-side against answer-side corruption",
            "Poison recall@k (the share of a question's own poisoned passages that reach the reader, averaged "
            "over the questions that have some) against ASR (over all questions). Points below the diagonal: "
            "poison retrieved but not believed, or, with a poison rate, spread over few questions.",
            recall_against_asr(points, colour)), _section(
            "harm", "Harm-weighted attack success",
            "ASR split by the severity of the target answer's harm, and the severity-weighted ASR "
            f"({', '.join(f'{s} {w:g}' for s, w in SEVERITY_WEIGHTS.items())}).",
            harm_by_severity(points, severity_counts))]
    else:
        sections.append('<p class="caption">No attacked cell in this run: nothing to plot against poison.</p>')
    cells = [dict(cell.as_row(), amount=_amount(cell)) for cell in results.summary]
    constant = [c for c in ("retriever", "retrieval_mode", "store", "k", "seed")
                if len({str(row[c]) for row in cells}) == 1]
    # The attack_params column shows only when some attack was given params.
    unused = [] if any(cell.attack_params for cell in results.summary) else ["attack_params"]
    if not any(cell.n_errored for cell in results.summary):  # shown when a backend failed to answer
        unused.append("n_errored")
    columns = [c for c in CELL_COLUMNS if c not in constant + unused]
    harm_rows = [{"attack / defense": p.series, "amount": p.amount, "n": p.n, **p.severity_asr,
                  "harm_weighted_asr": p.harm_weighted_asr} for p in points]
    meta = [str(Path(out_dir).resolve()), f"config {manifest.get('config_hash')}",
            f"{manifest.get('n_passages')} passages", f"{manifest.get('n_questions')} questions",
            f"{len(results.summary)} cells", *(f"{c} {cells[0][c]}" for c in constant),
            f"embedder {(manifest.get('embedder') or {}).get('identity')}"]
    card = _robustness_card(Path(out_dir)) + _traceback(Path(out_dir))
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>ragpoison report</title><style>{STYLE}</style></head><body>
<h1>ragpoison report</h1>
<p class="meta">{html.escape(" · ".join(meta))}</p>
{"".join(sections)}{card}
<h2 id="cells">Cells</h2>{_table(cells, columns)}
<h2 id="harm-table">Harm-weighted ASR</h2>
{_table(harm_rows, ["attack / defense", "amount", "n", *SEVERITY_WEIGHTS, "harm_weighted_asr"])}
</body></html>
"""
    path = Path(out_dir) / "report.html"
    atomic_write(path, lambda p: p.write_text(page, encoding="utf-8"))
    return path
