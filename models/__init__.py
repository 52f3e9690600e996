"""Return-risk models: segments, training, evaluation, the registry and the scoring library.

Where things are:
- `expressions`: the safe rule language segments are written in.
- `segments`: ordered segment rules and the one function that assigns rows to segments.
- `feature_set`: refusing rows built with another feature set than a model's.
- `encoding`: feature rows to the matrix LightGBM reads (categorical vocabularies).
- `calibration`: identity / Platt / isotonic calibrators, fitted offline, applied with numpy.
- `dataset`: a training table read, checked and split by time.
- `training`: a global LightGBM model, and per segment a model that continues it, kept only
  where it beats the global model on the segment's held-out calibration rows (the newest part
  of the calibration slice, which its boosting never stopped on): higher ROC-AUC, with
  DeLong's paired z >= `min_gain_z` (1.645 by default). Otherwise, or when the segment is too
  small to fit one, it falls back to the global model and its calibrator, reason recorded.
- `baselines`: the point-in-time customer-rate baseline (past matured orders, smoothed).
- `data_health`: label rate per month, segment shares, missing features, small segments.
- `evaluation`: metrics against three baselines (segment rate, customer rate, one global
  model); the HTML report is drawn by `reporting.training_report`.
- `training_run`: one training run: fit, write, evaluate as loaded, publish.
- `registry`: immutable versions on disk and the promoted-version pointer.
- `inference`: load a version and score a batch (numpy + LightGBM only; what workers import).
- `offline`: `returnrisk score` over a parquet table.
- `settings`: where the registry is (`RETURNRISK_REGISTRY_*`).

Beside it: `explain` (exact TreeSHAP contributions and readable reasons, which `inference`
attaches to every score), `policy` (what the stream does with a score) and `reporting` (the
HTML report of a training run).
"""
