"""``dcgmi diag -j`` output -> pass/fail per test and GPU.

DCGM changed the document's shape between major versions: 3.x nests results under
``"DCGM GPU Diagnostic"`` -> ``test_categories`` -> ``tests`` -> ``results`` (``gpu_ids``,
``status``), 4.x lists ``tests`` at the top with per-entity results (``entity_id``). Both are
read; a document that has neither is "not judged", never "passed": a diagnosis that produced
nothing is not evidence that the GPUs are fine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiconsole.text import clean

STATUSES = {"pass": "pass", "fail": "fail", "warn": "warn", "skip": "skip", "skipped": "skip"}


@dataclass(frozen=True)
class DiagTest:
    name: str
    category: str | None
    gpus: str
    """GPU ids as DCGM gives them (``3``, or ``0,1,2`` for the software tests)."""
    status: str
    """``pass``, ``fail``, ``warn``, ``skip`` or ``unknown``."""
    messages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Diagnosis:
    verdict: str
    """``pass`` (every test passed or was skipped), ``fail``, or ``unknown`` (no results)."""
    tests: tuple[DiagTest, ...] = ()
    version: str | None = None
    error: str | None = None

    @property
    def failures(self) -> tuple[DiagTest, ...]:
        return tuple(t for t in self.tests if t.status == "fail")

    def summary(self) -> str:
        if self.verdict == "unknown":
            return f"not judged: {self.error or 'no test results'}"
        failed = self.failures
        if not failed:
            warned = sum(t.status == "warn" for t in self.tests)
            return f"pass ({len(self.tests)} results" + (f", {warned} warnings)" if warned else ")")
        return "fail: " + "; ".join(f"{t.name} on GPU {t.gpus}" for t in failed)


def _json_start(text: str) -> str:
    # dcgmi may print a warning line before the document.
    start = text.find("{")
    return text[start:] if start >= 0 else text


def _messages(result: dict[str, Any]) -> tuple[str, ...]:
    found: list[str] = []
    for key in ("warnings", "info", "errors"):
        for item in result.get(key) or ():
            text = item.get("message") if isinstance(item, dict) else item
            if isinstance(text, str):
                found.append(clean(text, 500))
    return tuple(found[:20])


def _status(raw: object) -> str:
    return STATUSES.get(str(raw).strip().lower(), "unknown")


def _results(name: str, category: str | None, results: object) -> list[DiagTest]:
    tests: list[DiagTest] = []
    for result in results if isinstance(results, list) else ():
        if not isinstance(result, dict):
            continue
        gpus = result.get("gpu_ids", result.get("gpu_id", result.get("entity_id", "")))
        tests.append(
            DiagTest(
                clean(name, 100),
                clean(category, 100) if category else None,
                clean(str(gpus), 100),
                _status(result.get("status")),
                _messages(result),
            )
        )
    return tests


def parse_diag(text: str) -> Diagnosis:
    try:
        document = json.loads(_json_start(text))
    except ValueError as error:
        return Diagnosis("unknown", error=f"not JSON: {error}")
    if not isinstance(document, dict):
        return Diagnosis("unknown", error="not a JSON object")
    root = document.get("DCGM GPU Diagnostic", document.get("DCGM Diagnostic", document))
    if not isinstance(root, dict):
        return Diagnosis("unknown", error="unexpected document layout")
    tests: list[DiagTest] = []
    for category in root.get("test_categories") or ():
        if not isinstance(category, dict):
            continue
        for test in category.get("tests") or ():
            if isinstance(test, dict):
                tests += _results(
                    str(test.get("name")), category.get("category"), test.get("results")
                )
    for test in root.get("tests") or ():
        if isinstance(test, dict):
            tests += _results(str(test.get("name")), None, test.get("results"))
    version = root.get("version", document.get("version"))
    version_text = clean(str(version), 40) if version is not None else None
    if not tests:
        problem = root.get("runtime_error") or document.get("runtime_error") or "no test results"
        return Diagnosis("unknown", version=version_text, error=clean(str(problem), 300))
    verdict = "fail" if any(t.status == "fail" for t in tests) else "pass"
    if all(t.status == "unknown" for t in tests):
        verdict = "unknown"
    return Diagnosis(verdict, tuple(tests), version_text)
