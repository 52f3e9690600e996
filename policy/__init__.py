"""What the stream does with a score: resolutions, retention offers and alerts.

- `rules`: the policy, read from YAML (`policy.yaml` is the packaged default), and its pure
  decisions over a scored row and a small per-customer memory.
"""
