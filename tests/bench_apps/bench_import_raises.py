"""A module that raises while it is imported."""

raise RuntimeError("import-time failure in bench_import_raises")
