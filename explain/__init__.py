"""Why a model scored a row as it did: exact TreeSHAP contributions and readable reasons.

- `tree_shap`: each feature's exact (path-dependent) TreeSHAP contribution to a LightGBM score,
  from tables built once per model.
- `reasons`: the features that moved a score most, as reason codes in words a returns agent
  can read.

`models.inference` attaches them to every score; nothing here knows about segments or the
registry.
"""
