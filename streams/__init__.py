"""The streaming scorer: where events enter, and where scores, alerts and offers leave.

- `app`: the faust app and its agent (`returnrisk worker`, or `faust -A streams.app worker`).
- `pipeline`: one micro-batch, synchronous and Kafka-free: validate, dead-letter, update
  features in Redis, score, and build the records to produce.
- `model_source`: the promoted model, reloaded when the registry's pointer moves.
- `metrics`: the Prometheus series the worker exports.
"""
