"""Training: PPO (stable-baselines3) on the deploy environment, with deterministic seeds; the
policy network is exported to numpy for the bot. Also fits the cost estimator used to show the
expected cost of the alternatives. Imports torch: never imported by the bot itself."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from learner.features import FEATURE_NAMES, DeployFeatures, vectorize
from learner.policy_net import PolicyNet
from learner.simulator import NAMES, generate_contexts

TRAIN_SEED = 7
TRAIN_CONTEXTS = 20000


DEFAULT_STEPS = 60000


def train(
    out: Path,
    *,
    steps: int = DEFAULT_STEPS,
    seed: int = TRAIN_SEED,
    algo: str = "ppo",
    version: str | None = None,
    contexts: list[DeployFeatures] | None = None,
) -> dict[str, Any]:
    import torch
    from stable_baselines3 import DQN, PPO
    from stable_baselines3.common.env_util import make_vec_env

    from learner.env import DeployEnv

    torch.set_num_threads(1)
    started = time.perf_counter()
    contexts = contexts or generate_contexts(TRAIN_CONTEXTS, seed)
    env = make_vec_env(lambda: DeployEnv(contexts), n_envs=8, seed=seed)
    if algo == "dqn":
        model: Any = DQN("MlpPolicy", env, seed=seed, verbose=0, device="cpu")
    else:
        model = PPO(
            "MlpPolicy",
            env,
            seed=seed,
            verbose=0,
            device="cpu",
            n_steps=256,
            batch_size=512,
            n_epochs=10,
            learning_rate=1e-3,
            gamma=0.0,
            gae_lambda=1.0,
            ent_coef=0.002,
            policy_kwargs={"net_arch": {"pi": [64, 64], "vf": [64, 64]}},
        )
    model.learn(total_timesteps=steps)
    trained_s = time.perf_counter() - started

    if algo == "dqn":
        q = model.policy.q_net.q_net
        linears = [m for m in q if isinstance(m, torch.nn.Linear)]
    else:
        pi = model.policy.mlp_extractor.policy_net
        linears = [m for m in pi if isinstance(m, torch.nn.Linear)] + [model.policy.action_net]
    layers = [
        (lin.weight.detach().numpy().copy(), lin.bias.detach().numpy().copy()) for lin in linears
    ]
    x = np.stack([vectorize(f) for f in contexts[:5000]])
    version = version or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    meta = {
        "version": version,
        "algo": algo,
        "steps": steps,
        "seed": seed,
        "feature_names": list(FEATURE_NAMES),
        "strategies": list(NAMES),
        "feature_baseline": x.mean(axis=0).round(6).tolist(),
        "trained_seconds": round(trained_s, 1),
    }
    net = PolicyNet(layers=layers, meta=meta)
    net.save(out)
    report = {
        "version": version,
        "algo": algo,
        "steps": steps,
        "seed": seed,
        "trained_seconds": round(trained_s, 1),
        "model_bytes": sum(p.stat().st_size for p in out.iterdir() if p.is_file()),
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
