"""The reasons' SHAP tables give LightGBM's own `pred_contrib`, for any model and any row."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explain import tree_shap
from explain.tree_shap import TreeExplainer, UnexplainableModel
from models.inference import ScoringModel
from tests.fixtures.trained_versions import OwnModelVersion, SmallData, TrainedVersion

TOLERANCE = 1e-9


def _values(rng: np.random.Generator, rows: int, categorical: bool) -> np.ndarray:
    """Few distinct values (ties on thresholds), zeros, negatives and NaN."""
    if categorical:
        codes = rng.integers(0, 40, rows).astype(float)
    else:
        codes = np.round(rng.normal(0, 2, rows), int(rng.integers(0, 3)))
    codes[rng.random(rows) < rng.choice([0.0, 0.1, 0.4])] = np.nan
    codes[rng.random(rows) < 0.1] = 0.0
    return codes


@st.composite
def models_and_rows(draw: st.DrawFn) -> tuple[lgb.Booster, np.ndarray]:
    """A small LightGBM model on random data (splitting on a few features again and again,
    categorical ones too, each missing-value mode), and rows to explain that include values
    on its thresholds, unseen categories and negative codes."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    features = draw(st.integers(1, 6))
    categorical = [i for i in range(features) if draw(st.booleans())]
    data = np.column_stack([_values(rng, 600, i in categorical) for i in range(features)])
    signal = np.nan_to_num(data[:, 0]) + rng.normal(0, 1, 600)
    label = (signal > np.median(signal)).astype(float)
    params = {
        "objective": draw(st.sampled_from(["binary", "regression"])),
        "num_leaves": draw(st.integers(2, 24)),
        "max_depth": draw(st.sampled_from([-1, 3, 6, 8])),
        "min_data_in_leaf": draw(st.integers(1, 40)),
        "zero_as_missing": draw(st.booleans()),
        "use_missing": draw(st.booleans()),
        "min_data_per_group": 1,
        "cat_smooth": 1.0,
        "max_cat_to_onehot": draw(st.sampled_from([1, 4, 64])),
        "verbose": -1,
        "seed": seed % 1000,
    }
    booster = lgb.train(
        params,
        lgb.Dataset(data, label, categorical_feature=categorical),
        num_boost_round=draw(st.integers(1, 25)),
    )
    rows = np.vstack(
        [
            data[rng.integers(0, 600, 200)],
            np.column_stack([_values(rng, 50, i in categorical) for i in range(features)]),
            rng.choice([-3.0, -0.5, 0.0, 1e-36, 41.0, 1e6, np.nan], (20, features)),
        ]
    )
    return booster, rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models_and_rows())
def test_contributions_equal_lightgbms_pred_contrib(case: tuple[lgb.Booster, np.ndarray]) -> None:
    booster, rows = case
    expected = booster.predict(rows, pred_contrib=True)
    found = TreeExplainer(booster).contributions(rows)
    assert found.shape == expected.shape
    np.testing.assert_allclose(found, expected, rtol=0, atol=TOLERANCE)
    raw = booster.predict(rows, raw_score=True)
    np.testing.assert_allclose(found.sum(axis=1), raw, rtol=0, atol=TOLERANCE)


def test_a_trained_versions_contributions_equal_pred_contrib(
    own_model_version: OwnModelVersion, trained_version: TrainedVersion, small_data: SmallData
) -> None:
    """Every model of a version trained by `returnrisk train`, on the version's own encoded
    rows: segment models that continue the global one (`own_model_version`), and a global
    model fitted on the simulator's features, categorical ones included (`trained_version`)."""
    files = _assert_every_model_explained(own_model_version, own_model_version.data.columns)
    assert len(files) > 1  # the global model and at least one segment's
    table = small_data.table
    _assert_every_model_explained(
        trained_version, {name: table.column(name).to_pylist() for name in table.column_names}
    )


def _assert_every_model_explained(version: TrainedVersion, columns: Mapping[str, Any]) -> set[str]:
    model: ScoringModel = version.model
    matrix = model.encoder.encode_columns({name: columns[name] for name in model.feature_names})
    model_files = {info["model"] for info in model.manifest["segments"].values()}
    for name in sorted(model_files):
        booster = lgb.Booster(model_file=str(version.run.path / name))
        expected = booster.predict(matrix, pred_contrib=True)
        found = TreeExplainer(booster).contributions(matrix)
        np.testing.assert_allclose(found, expected, rtol=0, atol=TOLERANCE, err_msg=name)
    return model_files


def test_a_model_too_deep_to_tabulate_is_refused_with_its_depth(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(size=(2000, 8))
    label = (data.sum(axis=1) > 0).astype(float)
    params = {"objective": "binary", "num_leaves": 64, "max_depth": 12, "verbose": -1}
    booster = lgb.train(params, lgb.Dataset(data, label), num_boost_round=3)
    monkeypatch.setattr(tree_shap, "MAX_TABLE_ENTRIES", 1000)
    with pytest.raises(UnexplainableModel, match=r"paths of up to \d+ distinct features"):
        TreeExplainer(booster)


def test_a_multiclass_model_is_refused() -> None:
    rng = np.random.default_rng(1)
    data = rng.normal(size=(300, 3))
    params = {"objective": "multiclass", "num_class": 3, "verbose": -1}
    booster = lgb.train(params, lgb.Dataset(data, rng.integers(0, 3, 300)), num_boost_round=2)
    with pytest.raises(UnexplainableModel, match="multiclass"):
        TreeExplainer(booster)
