"""The trained policy as plain numpy: loaded by the bot without importing torch, so start-up
stays fast and a suggestion costs microseconds."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class PolicyNet:
    layers: list[tuple[np.ndarray, np.ndarray]]  # (weight [out, in], bias [out]); tanh between
    meta: dict[str, Any]

    def logits(self, x: np.ndarray) -> np.ndarray:
        h = x
        for i, (w, b) in enumerate(self.layers):
            h = h @ w.T + b
            if i < len(self.layers) - 1:
                h = np.tanh(h)
        return h

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        z = self.logits(x)
        z = z - z.max(axis=-1, keepdims=True)
        e = np.exp(z)
        result: np.ndarray = e / e.sum(axis=-1, keepdims=True)
        return result

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {}
        for i, (w, b) in enumerate(self.layers):
            arrays[f"w{i}"], arrays[f"b{i}"] = w.astype(np.float32), b.astype(np.float32)
        np.savez_compressed(folder / "policy.npz", **arrays)  # type: ignore[arg-type]
        (folder / "meta.json").write_text(json.dumps(self.meta, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, folder: Path) -> PolicyNet:
        with np.load(folder / "policy.npz") as data:
            n = len([k for k in data.files if k.startswith("w")])
            layers = [(data[f"w{i}"], data[f"b{i}"]) for i in range(n)]
        return cls(layers=layers, meta=json.loads((folder / "meta.json").read_text()))
