"""A model's feature-set identity, checked before it reads any row.

`features.registry.feature_set_hash` names the ordered feature list and the knobs that
shape the values. Rows built under one hash and a model trained under another would line up
column by column and still mean different things, so every entry point refuses a mismatch.
"""

from __future__ import annotations


class FeatureSetMismatch(ValueError):
    """Rows built with one feature set offered to a model (or code) built with another."""


def check_feature_set(
    found: str | None, expected: str, what: str, expected_by: str = "the model"
) -> None:
    if found != expected:
        raise FeatureSetMismatch(
            f"{what} has feature_set_hash {found or 'none'}, {expected_by} expects {expected}; "
            "rebuild it with `returnrisk features build` from the same code and feature config"
        )
