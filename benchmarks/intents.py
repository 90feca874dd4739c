"""Offline intent classifier benchmark: accuracy, macro-F1, per-intent P/R/F1, confusion matrix, latency.

Usage::

    python benchmarks/intents.py [--data tests/data/intents_labelled.jsonl] [--errors]

Trains ``IntentClassifier.from_default()`` (the shipped examples only – the labelled file is never used for
training or tuning) and classifies every labelled message once. Prints ONE JSON object.

Latency is per ``classify()`` call on one core (BLAS/OpenMP threads pinned to 1 before numpy loads):

* ``latency_ms`` – wall time on the first pass, i.e. with every word of the message possibly unseen (cold
  lemma/transliteration caches): the worst realistic case;
* ``latency_warm_ms`` – wall time on a second pass (caches warm, as in a long-running worker);
* ``cpu_ms`` – thread CPU time on the first pass, which is what the budget is about; wall time on a shared
  machine also contains time spent waiting for the CPU.

``--errors`` adds the misclassified messages to the output (for debugging the classifier, not for tuning it
against this set).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402 - the thread pins above must precede numpy's import
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graphs.offline.intent_classifier import IntentClassifier, load_examples  # noqa: E402

DEFAULT_DATA = ROOT / "tests" / "data" / "intents_labelled.jsonl"


def _percentiles(values_ms: Sequence[float]) -> dict[str, float]:
    a = np.asarray(values_ms, dtype=np.float64)
    return {
        "p50": round(float(np.percentile(a, 50)), 3),
        "p95": round(float(np.percentile(a, 95)), 3),
        "max": round(float(a.max()), 3),
        "mean": round(float(a.mean()), 3),
    }


def evaluate(gold: Sequence[str], pred: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 over the gold intents, per-intent P/R/F1/support and the confusion matrix."""
    labels = sorted(set(gold) | set(pred))
    index = {lab: i for i, lab in enumerate(labels)}
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for g, p in zip(gold, pred, strict=True):
        cm[index[g], index[p]] += 1
    per_intent: dict[str, dict[str, float | int]] = {}
    f1s: list[float] = []
    for lab, i in index.items():
        tp = int(cm[i, i])
        support = int(cm[i].sum())
        predicted = int(cm[:, i].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_intent[lab] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": support,
        }
        if support:  # macro-F1 over intents that occur in the gold data
            f1s.append(f1)
    n = len(gold)
    return {
        "n": n,
        "accuracy": round(float(np.trace(cm)) / n, 4) if n else 0.0,
        "macro_f1": round(float(np.mean(f1s)), 4) if f1s else 0.0,
        "per_intent": per_intent,
        "confusion": {"labels": labels, "rows": cm.tolist(), "note": "rows = gold, columns = predicted"},
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="labelled {text, intent} JSON lines")
    ap.add_argument("--errors", action="store_true", help="also list misclassified messages")
    args = ap.parse_args(argv)

    rows = load_examples(args.data)
    t0 = time.perf_counter()
    clf = IntentClassifier.from_default()
    fit_s = time.perf_counter() - t0
    clf.classify("привет")  # load pymorphy's dictionaries outside the timed calls

    gold: list[str] = []
    pred: list[str] = []
    wall: list[float] = []
    cpu: list[float] = []
    errors: list[dict[str, Any]] = []
    for text, intent in rows:
        w0, c0 = time.perf_counter(), time.thread_time()
        label, conf = clf.classify(text)
        cpu.append((time.thread_time() - c0) * 1e3)
        wall.append((time.perf_counter() - w0) * 1e3)
        gold.append(intent)
        pred.append(label)
        if label != intent:
            errors.append({"text": text, "gold": intent, "pred": label, "p": round(conf, 3)})
    warm: list[float] = []
    for text, _ in rows:
        w0 = time.perf_counter()
        clf.classify(text)
        warm.append((time.perf_counter() - w0) * 1e3)

    out: dict[str, Any] = {"data": str(args.data), **evaluate(gold, pred)}
    out["latency_ms"] = _percentiles(wall) if wall else {}
    out["latency_warm_ms"] = _percentiles(warm) if warm else {}
    out["cpu_ms"] = _percentiles(cpu) if cpu else {}
    out["train_examples"] = len(load_examples())
    out["fit_seconds"] = round(fit_s, 2)
    if args.errors:
        out["errors"] = errors
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
