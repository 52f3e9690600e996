"""The streaming scorer: where events enter, and where scores, alerts and offers leave.

- `app`: the faust app and its agent, run by `returnrisk worker`.
- `startup`, `lifecycle`, `health`: what a worker checks before it consumes, its readiness and
  its bounded stop, and `/ready` beside `/metrics`.
- `micro_batch`: one micro-batch, synchronous and Kafka-free: validate, dead-letter, update
  features in Redis, score, and build the records to produce (`decisions`: scores, alerts and
  offers from the scored rows).
- `model_source`: the promoted model, reloaded when the registry's pointer moves.
- `metrics`: the Prometheus series the worker exports.
"""
