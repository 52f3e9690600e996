"""Per-customer features: definitions (pure), their state, and where that state is stored.

Where things are:
- `registry`: the ordered list of feature names, types and windows, and its hash.
- `state`: how each event updates a customer's state (pure).
- `vector`: how a feature vector is read from a state at a scoring moment (pure).
- `store` / `redis_store`: where state lives (memory for the offline replay, Redis online).
- `batch`: one micro-batch through a store: the online path.
- `replay`: the offline path, a point-in-time training set from an event log.
"""
