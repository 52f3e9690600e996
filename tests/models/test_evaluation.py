"""Metrics: precision in the top 10 % with ties, and the keys every group carries."""

from __future__ import annotations

import numpy as np

from models.evaluation import ValidationScores, evaluate, precision_at_top


def test_precision_at_top_counts_ties_in_proportion() -> None:
    label = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1] * 10)
    assert precision_at_top(np.full(100, 0.3), label) == label.mean()
    score = np.where(label == 1, 0.9, 0.1)
    assert precision_at_top(score, label) == 1.0
    assert precision_at_top(score[::-1].copy(), label[::-1].copy()) == 1.0


def test_every_group_has_the_model_and_every_baseline() -> None:
    rng = np.random.default_rng(0)
    label = (rng.random(400) < 0.3).astype(np.int8)
    segments = ["a"] * 200 + ["b"] * 199 + ["c"]
    scores = ValidationScores(
        label=label,
        segments=segments,
        model=np.clip(label * 0.4 + rng.random(400) * 0.5, 0, 1),
        segment_rate=np.where(np.array(segments) == "a", 0.25, 0.35),
        customer_rate=rng.random(400),
        global_model=rng.random(400),
    )
    result = evaluate(scores, ("a", "b", "c", "empty"))
    keys = {"auc", "pr_auc", "brier", "ece", "logloss", "lift_top10", "precision_top10"}
    assert keys <= set(result["overall"])
    assert set(result["baselines"]) == {"segment_rate", "customer_rate", "global_model"}
    assert result["overall"]["auc"] > result["baselines"]["customer_rate"]["auc"]
    assert result["segments"]["a"]["baselines"]["segment_rate"]["auc"] == 0.5
    assert result["segments"]["c"]["auc"] is None  # one row: AUC undefined, not NaN
    assert result["segments"]["empty"]["n"] == 0
