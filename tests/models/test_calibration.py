"""Calibrators: fitted on held-out rows, chosen by cross-validated ECE, applied with numpy."""

from __future__ import annotations

import numpy as np

from models.calibration import (
    Calibrator,
    choose_calibrator,
    expected_calibration_error,
    fit_isotonic,
    fit_platt,
)


def miscalibrated(n: int = 6000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw log-odds that are twice too confident and shifted: true p = sigmoid(raw / 2 - 0.5)."""
    rng = np.random.default_rng(seed)
    raw = rng.normal(0, 2, n)
    truth = 1 / (1 + np.exp(-(raw / 2 - 0.5)))
    return raw, (rng.random(n) < truth).astype(np.int8), truth


def test_ece_of_perfect_and_of_wrong_probabilities() -> None:
    label = np.array([0, 1] * 50, dtype=np.int8)
    assert expected_calibration_error(np.full(100, 0.5), label) == 0.0
    assert abs(expected_calibration_error(np.full(100, 0.9), label) - 0.4) < 1e-12


def test_platt_recovers_a_known_miscalibration() -> None:
    raw, label, _ = miscalibrated(20000)
    platt = fit_platt(raw, label)
    assert abs(platt.a - 0.5) < 0.05 and abs(platt.b + 0.5) < 0.08


def test_calibration_improves_ece_on_fresh_rows() -> None:
    raw, label, _ = miscalibrated(seed=1)
    fresh_raw, fresh_label, _ = miscalibrated(seed=2)
    before = expected_calibration_error(Calibrator("identity").apply(fresh_raw), fresh_label)
    choice = choose_calibrator(raw, label)
    after = expected_calibration_error(choice.calibrator.apply(fresh_raw), fresh_label)
    assert choice.calibrator.method in {"platt", "isotonic"}
    assert after < before / 3


def test_calibration_keeps_ece_when_the_scores_are_already_calibrated() -> None:
    rng = np.random.default_rng(3)
    raw = rng.normal(-0.5, 1.5, 4000)
    label = (rng.random(4000) < 1 / (1 + np.exp(-raw))).astype(np.int8)
    fresh = rng.normal(-0.5, 1.5, 4000)
    fresh_label = (rng.random(4000) < 1 / (1 + np.exp(-fresh))).astype(np.int8)
    choice = choose_calibrator(raw, label)
    before = expected_calibration_error(Calibrator("identity").apply(fresh), fresh_label)
    after = expected_calibration_error(choice.calibrator.apply(fresh), fresh_label)
    assert after <= before + 0.01
    assert set(choice.cv_ece) == {"identity", "platt", "isotonic"}


def test_isotonic_is_monotone_bounded_and_round_trips_through_json() -> None:
    raw, label, _ = miscalibrated()
    isotonic = fit_isotonic(raw, label)
    grid = np.linspace(-10, 10, 200)
    probability = isotonic.apply(grid)
    assert np.all(np.diff(probability) >= 0)
    assert probability.min() > 0 and probability.max() < 1
    assert Calibrator.from_json(isotonic.to_json()) == isotonic
