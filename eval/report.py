"""``ragpoison report DIR``: an HTML report with plots from a run's summary and trials."""

from __future__ import annotations

import html
import io
import math
from pathlib import Path

from eval import metrics
from eval.reporting import attack_label
from eval.results import Results, atomic_write

SEVERITY_WEIGHTS = {"high": 3.0, "medium": 2.0, "low": 1.0}


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def harm_weighted(trials: list[dict]) -> list[dict]:
    """Per cell: ASR by target severity and the severity-weighted ASR (high 3, medium 2, low 1)."""
    cells: dict[str, list[dict]] = {}
    for row in trials:
        cells.setdefault(row["cell_id"], []).append(row)
    out = []
    for rows in cells.values():
        first = rows[0]
        entry = {"cell": f"{attack_label(first)} N={first['poison_per_target']} / {first['defense']}"}
        for severity in SEVERITY_WEIGHTS:
            entry[severity] = metrics.rate(r["answered_target"] for r in rows if r["severity"] == severity)
        weights = [SEVERITY_WEIGHTS[r["severity"]] for r in rows]
        entry["harm_weighted_asr"] = sum(w * r["answered_target"] for w, r in zip(weights, rows, strict=True)) / sum(
            weights)
        out.append(entry)
    return out


def _plot_asr_vs_amount(summary: list[dict]) -> str:
    import matplotlib.pyplot as plt

    attacked = [r for r in summary if r["attack"] != "none"]
    fig, ax = plt.subplots(figsize=(7, 4))
    for (attack, defense) in sorted({(attack_label(r), r["defense"]) for r in attacked}):
        rows = sorted((r for r in attacked if (attack_label(r), r["defense"]) == (attack, defense)),
                      key=lambda r: r["poison_per_target"])
        xs = [r["poison_per_target"] for r in rows]
        ax.plot(xs, [r["asr"] for r in rows], marker="o", label=f"{attack} / {defense}")
        ax.fill_between(xs, [r["asr_ci_low"] for r in rows], [r["asr_ci_high"] for r in rows], alpha=0.2)
    ax.set_xlabel("poisoned passages per target question (N)")
    ax.set_ylabel("attack success rate (95% Wilson band)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    ax.set_title("ASR against poison amount, per defense")
    return _svg(fig)


def _plot_clean_cost(summary: list[dict]) -> str:
    import matplotlib.pyplot as plt

    by_defense: dict[str, list[float]] = {}
    for row in summary:
        by_defense.setdefault(row["defense"], []).append(row["clean_accuracy"])
    names = list(by_defense)
    values = [sum(v) / len(v) for v in by_defense.values()]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(names, values, color=["#888" if n == "none" else "#3b7dd8" for n in names])
    for i, value in enumerate(values):
        ax.text(i, value + 0.01, f"{value:.3f}", ha="center", fontsize=8)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("clean accuracy")
    ax.set_title("Clean-accuracy cost of each defense")
    return _svg(fig)


def _plot_recall_vs_asr(summary: list[dict]) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for row in summary:
        if row["attack"] == "none" or math.isnan(row["poison_recall_at_k"]):
            continue
        ax.scatter(row["poison_recall_at_k"], row["asr"], s=40)
        ax.annotate(f"{attack_label(row)}/{row['defense']} N={row['poison_per_target']}",
                    (row["poison_recall_at_k"], row["asr"]), fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.plot([0, 1], [0, 1], ls="--", color="#aaa", lw=1)
    ax.set_xlim(-0.02, 1.05)
    ax.set_ylim(-0.02, 1.05)
    ax.set_xlabel("poison recall@k (retrieval-side corruption)")
    ax.set_ylabel("ASR (answer-side corruption)")
    ax.set_title("Retrieval-side against answer-side corruption")
    return _svg(fig)


def _plot_harm(harm: list[dict]) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.2
    for i, key in enumerate([*SEVERITY_WEIGHTS, "harm_weighted_asr"]):
        values = [0.0 if math.isnan(h[key]) else h[key] for h in harm]
        ax.bar([x + i * width for x in range(len(harm))], values, width, label=key)
    ax.set_xticks([x + 1.5 * width for x in range(len(harm))], [h["cell"] for h in harm], rotation=20,
                  ha="right", fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("ASR")
    ax.legend(fontsize=8)
    ax.set_title("ASR by target severity and harm-weighted ASR")
    return _svg(fig)


def _table(rows: list[dict], columns: list[str]) -> str:
    def fmt(value) -> str:
        if isinstance(value, float):
            return "-" if math.isnan(value) else f"{value:.3f}"
        return html.escape(str(value))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{fmt(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_report(out_dir: str | Path) -> Path:
    """Render ``DIR/report.html`` from the results in DIR."""
    import matplotlib

    matplotlib.use("Agg")
    results = Results.read(out_dir)
    summary = results.summary
    harm = harm_weighted(results.trials)
    columns = ["attack", "attack_params", "defense", "poison_per_target", "retriever", "retrieval_mode", "k", "seed",
               "n_questions",
               "clean_accuracy", "accuracy_under_attack", "asr", "asr_ci_low", "asr_ci_high",
               "target_rate_clean", "flip_rate", "poison_recall_at_k", "poison_hit_rate"]
    figures = [("asr-vs-amount", _plot_asr_vs_amount(summary)), ("clean-cost", _plot_clean_cost(summary)),
               ("recall-vs-asr", _plot_recall_vs_asr(summary)), ("harm", _plot_harm(harm))]
    manifest = results.manifest
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ragpoison report</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;font-size:12px}}td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right}}
th{{background:#f3f3f3}}figure{{margin:1.5em 0}}</style></head><body>
<h1>ragpoison report</h1>
<p>Run folder: {html.escape(str(Path(out_dir).resolve()))}. Config hash {html.escape(str(manifest.get("config_hash")))},
{manifest.get("n_passages")} passages, {manifest.get("n_questions")} questions.</p>
<h2>Cells</h2><div style="overflow-x:auto">{_table(summary, columns)}</div>
{"".join(f'<figure id="{name}">{svg}</figure>' for name, svg in figures)}
<h2>Harm-weighted ASR</h2>{_table(harm, ["cell", *SEVERITY_WEIGHTS, "harm_weighted_asr"])}
</body></html>
"""
    path = Path(out_dir) / "report.html"
    atomic_write(path, lambda p: p.write_text(page, encoding="utf-8"))
    return path
