"""What a replay leaves in its output directory: results.jsonl (+ baseline.jsonl), summary.json, report.html.

``summary.json`` holds counts, route and handoff rates, the intent distribution, the conversations' own
expectations (``expect.handoff``) and, with a baseline, every client message whose intent, route, handoff or
sources changed. Everything in it is deterministic except the ``run`` section (timings, worker hosts).

``report.html`` is one self-contained page (inline CSS and SVG, no scripts, no external URLs) in Russian for the
data team; every text that came from a buyer, a model or a scenario file is HTML-escaped.
"""

from __future__ import annotations

import html
import json
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from actors.replay import ROUTES, Conversation, ConversationResult, TurnRecord, result_line, results_digest

# The diff compares what a data team acts on; the reply text changes with any wording and is shown, not compared.
COMPARED = ("intent", "route", "handoff", "sources")
NO_INTENT = "(none)"  # a turn that failed before its Intent node; not a valid intent id, so it cannot collide
HTML_DIFF_ROWS = 1000  # the page stays readable; summary.json has every changed message
HTML_ERROR_ROWS = 200

ROUTE_TITLES = {"answer": "Ответ", "clarify": "Уточнение", "handoff": "Менеджеру", "fallback": "Иначе"}
ROUTE_COLOURS = {"answer": "#16a34a", "clarify": "#d97706", "handoff": "#dc2626", "fallback": "#7c3aed"}
SCENARIO_COLOUR = "#4f46e5"
BASELINE_COLOUR = "#a3a3a3"


# --- summary.json ---------------------------------------------------------------------------------------------


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def aggregate(records: Sequence[TurnRecord], conversations: int) -> dict[str, Any]:
    """Counts and rates of one scenario's turns."""
    handoffs = sum(r.handoff for r in records)
    handed_chats = len({r.chat_id for r in records if r.handoff})
    routes = Counter(r.route for r in records)
    intents = Counter(r.intent or NO_INTENT for r in records)
    return {
        "counts": {
            "conversations": conversations,
            "turns": len(records),
            "handoffs": handoffs,
            "conversations_with_handoff": handed_chats,
            "errors": sum(r.error is not None for r in records),
        },
        "handoff_rate": _rate(handoffs, len(records)),
        "conversation_handoff_rate": _rate(handed_chats, conversations),
        # Every route is listed, a zero included, so two summaries line up key by key.
        "routes": {route: routes.get(route, 0) for route in (*ROUTES, *sorted(set(routes) - set(ROUTES)))},
        "route_rates": {route: _rate(routes.get(route, 0), len(records)) for route in ROUTES},
        "intents": dict(sorted(intents.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def _compared(record: TurnRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in COMPARED}


def diff(results: Sequence[ConversationResult]) -> list[dict[str, Any]]:
    """Every client message whose intent, route, handoff or sources differ from the baseline, in output order."""
    changes = []
    for result in results:
        for now, before in zip(result.turns, result.baseline or [], strict=True):
            changed = [name for name in COMPARED if getattr(now, name) != getattr(before, name)]
            if changed:
                changes.append(
                    {
                        "chat_id": now.chat_id,
                        "message_id": now.message_id,
                        "changed": changed,
                        "baseline": _compared(before),
                        "scenario": {**_compared(now), "reply": now.reply},
                    }
                )
    return changes


def _expectations(results: Sequence[ConversationResult], conversations: Iterable[Conversation]) -> dict[str, Any]:
    """`expect.handoff` of a conversation holds when some replayed turn of it handed off (or none did)."""
    handed = {r.chat_id: any(t.handoff for t in r.turns) for r in results}
    checked, failed = 0, []
    for conversation in conversations:
        expected = (conversation.expect or {}).get("handoff")
        if not isinstance(expected, bool):
            continue
        checked += 1
        got = handed.get(conversation.chat_id, False)
        if got != expected:
            failed.append({"chat_id": conversation.chat_id, "expected_handoff": expected, "handoff": got})
    failed.sort(key=lambda f: f["chat_id"])
    return {"checked": checked, "met": checked - len(failed), "failed": failed}


def _latency(records: Sequence[TurnRecord]) -> dict[str, float]:
    values = sorted(r.latency_ms for r in records)
    if not values:
        return {"p50": 0.0, "p95": 0.0, "max": 0.0}
    p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
    return {"p50": round(statistics.median(values), 2), "p95": round(p95, 2), "max": round(values[-1], 2)}


def summarize(
    results: Sequence[ConversationResult],
    conversations: Sequence[Conversation],
    *,
    source: str,
    scenario: str,
    baseline: str | None,
    engine: str,
    workers: Sequence[Any],
    timing: dict[str, Any],
    stats: dict[str, Any],
) -> dict[str, Any]:
    records = [t for r in results for t in r.turns]
    first = workers[0] if workers else None
    summary: dict[str, Any] = {
        "scenario": scenario,
        "baseline": baseline,
        "engine": engine,
        "input": source,
        "knowledge_base": {
            "version": first.kb_version if first else None,
            "articles": first.articles if first else None,
            "chunks": first.chunks if first else None,
            "embedder": first.embedder if first else None,
        },
        **aggregate(records, len(results)),
        "expectations": _expectations(results, conversations),
    }
    if baseline is not None:
        changes = diff(results)
        summary["baseline_diff"] = {
            **aggregate([t for r in results for t in r.baseline or []], len(results)),
            "changed": len(changes),
            "changed_rate": _rate(len(changes), len(records)),
            "messages": changes,
        }
    summary["results_sha256"] = results_digest(records)
    run_s = timing.get("run_s") or 0
    summary["run"] = {
        **timing,
        "conversations_per_s": round(len(results) / run_s, 1) if run_s else None,
        "turns_per_s": round(len(records) / run_s, 1) if run_s else None,
        "latency_ms": _latency(records),
        **stats,
        "worker_hosts": sorted({f"{w.node}:{w.pid}" for w in workers}),
    }
    return summary


# --- files ----------------------------------------------------------------------------------------------------


def write_outputs(
    out_dir: Path, results: Sequence[ConversationResult], summary: dict[str, Any], conversations: Sequence[Conversation]
) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "results.jsonl"]
    with open(written[0], "wb") as f:
        for result in results:
            f.writelines(result_line(t) for t in result.turns)
    if summary.get("baseline") is not None:
        written.append(out_dir / "baseline.jsonl")
        with open(written[-1], "wb") as f:
            for result in results:
                f.writelines(result_line(t) for t in result.baseline or [])
    written.append(out_dir / "summary.json")
    written[-1].write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    written.append(out_dir / "report.html")
    texts = {(c.chat_id, m.id): m.text for c in conversations for m in c.messages}
    errors = [t for r in results for t in r.turns if t.error is not None]
    written[-1].write_text(render_html(summary, texts, errors), encoding="utf-8")
    return written


# --- report.html ----------------------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _percent(rate: float) -> str:
    return f"{rate * 100:.1f} %".replace(".", ",")


def _bars(rows: list[tuple[str, int, int | None, str]], total: int, baseline_total: int | None) -> str:
    """Horizontal bars, one per row (label, count, baseline count or None, colour), as inline SVG."""
    label_w, bar_w, value_w = 190, 360, 150
    with_baseline = baseline_total is not None
    row_h = 34 if with_baseline else 24
    # The longest bar spans the width (the labels carry the percentages): small shares stay readable.
    shares = [count / total for _, count, _, _ in rows if total]
    shares += [before / baseline_total for _, _, before, _ in rows if before is not None and baseline_total]
    widest = max(shares, default=0.0) or 1.0
    height = row_h * len(rows) + 8
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {label_w + bar_w + value_w} {height}" '
        f'width="{label_w + bar_w + value_w}" height="{height}">'
    ]
    for i, (label, count, before, colour) in enumerate(rows):
        y = 4 + i * row_h
        share = count / total if total else 0.0
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" class="label">{_e(label)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{max(share / widest * bar_w, 1):.1f}" height="14" rx="2" '
            f'fill="{colour}"><title>{_e(label)}: {count}</title></rect>'
            f'<text x="{label_w + bar_w + 6}" y="{y + 15}" class="value">{count} · {_percent(share)}</text>'
        )
        if with_baseline and before is not None:
            old = before / baseline_total if baseline_total else 0.0
            parts.append(
                f'<rect x="{label_w}" y="{y + 19}" width="{max(old / widest * bar_w, 1):.1f}" height="9" rx="2" '
                f'fill="{BASELINE_COLOUR}"><title>было: {before}</title></rect>'
                f'<text x="{label_w + bar_w + 6}" y="{y + 28}" class="value muted">было {before} · '
                f"{_percent(old)}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _gauge(rate: float, baseline_rate: float | None) -> str:
    """The handoff rate as a 0–100 % bar (and the baseline's under it)."""
    width, bar_w = 560, 400
    rows = [("сейчас", rate, "#dc2626")] + (
        [("было", baseline_rate, BASELINE_COLOUR)] if baseline_rate is not None else []
    )
    height = 30 * len(rows) + 6
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}">']
    for i, (label, value, colour) in enumerate(rows):
        y = 4 + i * 30
        parts.append(
            f'<text x="62" y="{y + 16}" text-anchor="end" class="label">{label}</text>'
            f'<rect x="70" y="{y + 3}" width="{bar_w}" height="18" rx="3" fill="#f1f5f9"/>'
            f'<rect x="70" y="{y + 3}" width="{max(value * bar_w, 1):.1f}" height="18" rx="3" fill="{colour}"/>'
            f'<text x="{70 + bar_w + 8}" y="{y + 16}" class="value">{_percent(value)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _side(values: dict[str, Any]) -> str:
    sources = ", ".join(values.get("sources") or []) or "—"
    handoff = "да" if values.get("handoff") else "нет"
    route = ROUTE_TITLES.get(values.get("route", ""), values.get("route", ""))
    return (
        f"<div>намерение: <b>{_e(values.get('intent') or '—')}</b></div>"
        f"<div>маршрут: <b>{_e(route)}</b></div><div>менеджеру: <b>{handoff}</b></div>"
        f"<div>источники: {_e(sources)}</div>"
    )


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#0f172a;margin:0;background:#f8fafc}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}
.meta{color:#475569;margin:0 0 16px}.muted{fill:#737373;color:#737373}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:12px 16px;min-width:150px}
.card b{display:block;font-size:22px}
section{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:8px 16px 16px;margin-top:16px}
.chart .label{font-size:12px;fill:#0f172a}.chart .value{font-size:12px;fill:#334155}
.legend span{display:inline-block;width:12px;height:12px;border-radius:2px;margin:0 4px -1px 12px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #e2e8f0;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f1f5f9;font-weight:600}
td.text{max-width:320px;white-space:pre-wrap;word-break:break-word}
.changed{color:#b45309;font-weight:600}
"""


def render_html(summary: dict[str, Any], texts: dict[tuple[str, str], str], errors: Sequence[TurnRecord]) -> str:
    counts = summary["counts"]
    diff_block = summary.get("baseline_diff")
    baseline_counts = diff_block["counts"] if diff_block else None
    turns = counts["turns"]
    baseline_turns = baseline_counts["turns"] if baseline_counts else None
    engine = {"offline": "офлайн-движок", "llm": "LLM"}.get(summary["engine"], summary["engine"])

    route_rows = [
        (
            ROUTE_TITLES.get(route, route),
            summary["routes"].get(route, 0),
            diff_block["routes"].get(route, 0) if diff_block else None,
            ROUTE_COLOURS.get(route, SCENARIO_COLOUR),
        )
        for route in summary["routes"]
    ]
    intent_ids = list(summary["intents"])
    if diff_block:
        intent_ids += [i for i in diff_block["intents"] if i not in summary["intents"]]
    intent_rows = [
        (i, summary["intents"].get(i, 0), diff_block["intents"].get(i, 0) if diff_block else None, SCENARIO_COLOUR)
        for i in intent_ids
    ]
    kb = summary["knowledge_base"]
    legend = (
        f'<p class="legend"><span style="background:{SCENARIO_COLOUR}"></span>{_e(summary["scenario"])}'
        f'<span style="background:{BASELINE_COLOUR}"></span>{_e(summary["baseline"])} (было)</p>'
        if diff_block
        else ""
    )
    cards = [
        ("Диалогов", counts["conversations"]),
        ("Сообщений покупателей", turns),
        ("Передано менеджеру", f"{counts['handoffs']} · {_percent(summary['handoff_rate'])}"),
        ("Ошибок", counts["errors"]),
    ]
    if diff_block:
        cards.append(("Изменились решения", f"{diff_block['changed']} · {_percent(diff_block['changed_rate'])}"))
    expectations = summary["expectations"]
    if expectations["checked"]:
        cards.append(("Ожидания выполнены", f"{expectations['met']} из {expectations['checked']}"))

    out = [
        '<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Повтор диалогов — {_e(summary['scenario'])}</title><style>{CSS}</style></head><body><main>",
        f"<h1>Повтор диалогов: сценарий {_e(summary['scenario'])}</h1>",
        f'<p class="meta">{_e(engine)} · источник: {_e(summary["input"])}'
        + (f" · сравнение с {_e(summary['baseline'])}" if diff_block else "")
        + f" · база знаний: версия {_e(kb['version'])}, статей {_e(kb['articles'])}"
        + (f", эмбеддер {_e(kb['embedder'])}" if kb.get("embedder") else ", только лексический поиск")
        + "</p>",
        '<div class="cards">'
        + "".join(f'<div class="card">{_e(title)}<b>{_e(value)}</b></div>' for title, value in cards)
        + "</div>",
        "<section><h2>Передача менеджеру</h2>",
        _gauge(summary["handoff_rate"], diff_block["handoff_rate"] if diff_block else None),
        "</section>",
        f"<section><h2>Маршруты</h2>{legend}",
        _bars(route_rows, turns, baseline_turns),
        "</section>",
        f"<section><h2>Намерения</h2>{legend}",
        _bars(intent_rows, turns, baseline_turns),
        "</section>",
    ]
    if diff_block:
        out.append(_diff_table(diff_block, texts))
    if expectations["failed"]:
        rows = "".join(
            f"<tr><td>{_e(f['chat_id'])}</td><td>{'да' if f['expected_handoff'] else 'нет'}</td>"
            f"<td>{'да' if f['handoff'] else 'нет'}</td></tr>"
            for f in expectations["failed"]
        )
        out.append(
            "<section><h2>Невыполненные ожидания</h2><table><tr><th>Чат</th><th>Ожидалась передача менеджеру</th>"
            f"<th>Передан менеджеру</th></tr>{rows}</table></section>"
        )
    if errors:
        rows = "".join(
            f"<tr><td>{_e(r.chat_id)}</td><td class='text'>{_e(texts.get((r.chat_id, r.message_id), ''))}</td>"
            f"<td class='text'>{_e(r.error)}</td></tr>"
            for r in errors[:HTML_ERROR_ROWS]
        )
        out.append(
            f"<section><h2>Ошибки ({len(errors)})</h2><table><tr><th>Чат</th><th>Сообщение покупателя</th>"
            f"<th>Ошибка</th></tr>{rows}</table></section>"
        )
    out.append("</main></body></html>\n")
    return "".join(out)


def _diff_table(block: dict[str, Any], texts: dict[tuple[str, str], str]) -> str:
    messages = block["messages"]
    if not messages:
        nothing = "Ни одно намерение, маршрут, передача или источник не изменились."
        return f"<section><h2>Изменения</h2><p>{nothing}</p></section>"
    rows = []
    for change in messages[:HTML_DIFF_ROWS]:
        text = texts.get((change["chat_id"], change["message_id"]), "")
        what = ", ".join(
            {"intent": "намерение", "route": "маршрут", "handoff": "передача", "sources": "источники"}[c]
            for c in change["changed"]
        )
        rows.append(
            f"<tr><td>{_e(change['chat_id'])}<br><small>{_e(change['message_id'])}</small></td>"
            f"<td class='text'>{_e(text)}</td><td class='changed'>{_e(what)}</td>"
            f"<td>{_side(change['baseline'])}</td><td>{_side(change['scenario'])}</td>"
            f"<td class='text'>{_e(change['scenario'].get('reply') or '—')}</td></tr>"
        )
    more = (
        f"<p>Показаны первые {HTML_DIFF_ROWS} из {len(messages)}; все — в summary.json.</p>"
        if len(messages) > HTML_DIFF_ROWS
        else ""
    )
    return (
        f"<section><h2>Изменения ({len(messages)})</h2>{more}<table><tr><th>Чат</th><th>Сообщение покупателя</th>"
        "<th>Что изменилось</th><th>Было</th><th>Стало</th><th>Ответ бота</th></tr>"
        + "".join(rows)
        + "</table></section>"
    )
