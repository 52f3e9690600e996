"""The event simulator behind `returnrisk simulate`.

It plays a synthetic shop's customers through a window of days and writes every input event
(profile updates, campaign touches, orders, return requests and receipts) as one time-ordered
JSON-lines log, byte-for-byte reproducible for a seed. Return behaviour is planted through the
knobs of a YAML config (`default.yaml` documents each one), so features, models and analyses
can be checked against a known truth.

Modules, in the order a run uses them: `config` (the knobs), `calendar` (time and
seasonality), `catalog`, `campaigns`, `world` (tables built once per run), `customers`,
`touches`, `orders`, `return_model` (who returns what), `returns` (return events),
`journey` (one customer's window), `timeline`, `events` (wire encoding), `runner` (merge and
write); `returnrisk simulate` itself is `returnrisk/simulate_cli.py`.
"""
