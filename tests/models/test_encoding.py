"""Feature rows to LightGBM's matrix: the same codes in training and scoring."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.encoding import EncodingError, FeatureEncoder

NAMES = ("orders", "tier", "rate")


def encoder() -> FeatureEncoder:
    columns = {"orders": [1.0, 2.0], "tier": ["vip", "gold", None, "gold"], "rate": [0.1, 0.2]}
    return FeatureEncoder.fit(NAMES, frozenset({"tier"}), columns)


def test_vocabulary_is_sorted_and_missing_or_unseen_categories_become_nan() -> None:
    enc = encoder()
    assert enc.vocabularies == {"tier": ("gold", "vip")}
    assert enc.categorical_indices == [1]
    matrix = enc.encode_rows(
        [
            {"orders": 3.0, "tier": "vip", "rate": 0.5},
            {"orders": None, "tier": "platinum", "rate": math.nan},
            {"orders": 0.0, "tier": None, "rate": 0.0},
        ]
    )
    assert matrix[0].tolist() == [3.0, 1.0, 0.5]
    assert np.isnan(matrix[1]).all()
    assert matrix[2, 0] == 0.0 and math.isnan(matrix[2, 1])


def test_rows_and_columns_encode_identically_and_the_encoder_round_trips() -> None:
    enc = encoder()
    rows = [
        {"orders": 1.0, "tier": "gold", "rate": 0.3},
        {"orders": 2.0, "tier": None, "rate": 0.1},
    ]
    columns = {name: [row[name] for row in rows] for name in NAMES}
    np.testing.assert_array_equal(enc.encode_rows(rows), enc.encode_columns(columns))
    assert FeatureEncoder.from_json(enc.to_json()) == enc


def test_bad_rows_name_the_row_and_feature() -> None:
    with pytest.raises(EncodingError, match="row 1 has no value for feature 'tier'"):
        encoder().encode_rows([{"orders": 1.0, "tier": "vip", "rate": 0.1}, {"orders": 1.0}])
    with pytest.raises(EncodingError, match="feature 'orders' is numeric but got 'many'"):
        encoder().encode_rows([{"orders": "many", "tier": "vip", "rate": 0.1}])
