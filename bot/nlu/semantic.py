"""The embedded intent router: nearest examples by sentence embedding (MiniLM, ONNX) blended
with character n-gram TF-IDF (which forgives typos), on text whose slot values are masked
("deploy SERVICE VERSION to ENV"), so the classifier learns the request, not the names.

Below a calibrated confidence it does not guess: it says which two or three intents it hesitates
between. Text that is far from every example is out of scope."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.nlu.embed import Embedder
from bot.nlu.slots import SlotFiller

INTENTS_FILE = Path(__file__).resolve().parent / "data" / "intents.yaml"
INTENTS: tuple[str, ...] = (
    "deploy",
    "rollback",
    "deploy_status",
    "drift_check",
    "drift_remediate",
    "incident_declare",
    "incident_ack",
    "incident_update",
    "incident_resolve",
    "incident_status",
    "postmortem",
    "runbook_run",
    "oncall_who",
    "kpi_report",
    "approve",
    "deny",
    "help",
    "out_of_scope",
)

# Blend and calibration, chosen on the training examples (leave-one-out) and checked on the
# dev split (docs/BENCHMARKS.md): scores are cosine similarities in [0, 1].
EMBED_WEIGHT = 0.8
OUT_OF_SCOPE_BELOW = 0.36  # best blended score under this: nothing we know
CLARIFY_BELOW = 0.45  # confidence under this: ask instead of guessing
TEMPERATURE = 0.03
CUE = 0.05


class Routed(BaseModel):
    model_config = ConfigDict(frozen=True)

    intent: str
    slots: dict[str, str]
    confidence: float
    alternatives: tuple[tuple[str, float], ...] = ()  # the runners-up, for a clarifying question

    @property
    def ambiguous(self) -> bool:
        return self.intent != "out_of_scope" and self.confidence < CLARIFY_BELOW


def load_examples(path: Path = INTENTS_FILE) -> dict[str, list[str]]:
    data: dict[str, list[str]] = yaml.safe_load(path.read_text())
    unknown = set(data) - set(INTENTS)
    if unknown:
        raise ValueError(f"unknown intents in {path}: {sorted(unknown)}")
    return data


class SemanticRouter:
    def __init__(
        self,
        slots: SlotFiller,
        examples: dict[str, list[str]] | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        started = time.perf_counter()
        self.slots = slots
        self._embedder = embedder or Embedder()
        examples = examples or load_examples()
        self._labels = np.array([intent for intent, texts in examples.items() for _ in texts])
        texts = [self.slots.extract(t).masked for ts in examples.values() for t in ts]
        self._intents = list(examples)
        self._vectors = self._embedder.encode(texts)
        self._tfidf = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
        self._grams = self._tfidf.fit_transform(texts)
        self._index = {i: np.flatnonzero(self._labels == i) for i in self._intents}
        self.load_seconds = time.perf_counter() - started

    def scores(self, masked: str) -> dict[str, float]:
        emb = self._vectors @ self._embedder.encode([masked])[0]
        grams = (self._grams @ self._tfidf.transform([masked]).T).toarray()[:, 0]
        blended = EMBED_WEIGHT * emb + (1 - EMBED_WEIGHT) * grams
        # Per intent: the best example, nudged by the mean of its top three (less brittle).
        out = {}
        for intent, idx in self._index.items():
            top = np.sort(blended[idx])[-3:]
            out[intent] = float(0.7 * top[-1] + 0.3 * top.mean())
        return out

    @staticmethod
    def _cues(text: str, slots: dict[str, str], scores: dict[str, float]) -> None:
        """A few strong words of the domain nudge the scores (never decide alone)."""
        lowered = text.lower()
        if "runbook" in lowered or "playbook" in lowered or "runbook" in slots:
            scores["runbook_run"] += CUE
        if "drift" in lowered or "terraform" in lowered:
            fixing = any(
                w in lowered
                for w in (
                    "fix",
                    "remediat",
                    "reconcil",
                    "re-apply",
                    "heal",
                    "restore",
                    "revert",
                    "match",
                    "sync",
                )
            )
            scores["drift_remediate" if fixing else "drift_check"] += CUE
        if ("incident" in lowered or "incident_id" in slots or "sev" in lowered) and any(
            w in lowered for w in ("status", "still", "yet", "news", "going", "?")
        ):
            scores["incident_status"] += CUE

    def route(self, text: str) -> Routed:
        extracted = self.slots.extract(text)
        scores = self.scores(extracted.masked)
        self._cues(text, extracted.slots, scores)
        ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
        best, best_score = ranked[0]
        values = np.array([s for _, s in ranked])
        probs = np.exp((values - values.max()) / TEMPERATURE)
        probs /= probs.sum()
        confidence = float(probs[0])
        if best_score < OUT_OF_SCOPE_BELOW:
            return Routed(intent="out_of_scope", slots={}, confidence=round(1 - best_score, 3))
        alternatives = tuple(
            (name, round(float(p), 3)) for (name, _), p in zip(ranked[1:3], probs[1:3], strict=True)
        )
        slots = extracted.slots if best != "out_of_scope" else {}
        return Routed(
            intent=best, slots=slots, confidence=round(confidence, 3), alternatives=alternatives
        )

    def route_many(self, texts: Iterable[str]) -> list[Routed]:
        return [self.route(t) for t in texts]
