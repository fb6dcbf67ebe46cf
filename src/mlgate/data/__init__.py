"""Data validation: a committed schema, a reference profile, streaming checks and drift.

- :mod:`mlgate.data.schema`: the schema (``data/schema.yaml``) and its YAML reader/writer.
- :mod:`mlgate.data.profile`: the reference profile (``data/reference_profile.json``).
- :mod:`mlgate.data.infer`: infer both from a CSV or Parquet file.
- :mod:`mlgate.data.validate`: ``validate_file`` streams a file through the checks.

Its section of the PR report is rendered by :mod:`mlgate.report.validation`.

The validate path uses pyarrow and numpy only (no pandas: it costs 0.4 s to import).
"""
