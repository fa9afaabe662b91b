"""Reading billing exports: streaming readers, one parser per format, one row shape (FOCUS names).

``readers`` opens local files and S3 objects as streams (CSV, CSV.gz, Parquet) without holding a
whole file in memory; ``focus``, ``cur`` and ``cost_explorer`` turn rows into the normalised
line-item dict of :mod:`costs.ingest.normalize`; every problem is a
:class:`costs.ingest.errors.CostImportError` naming file, row and column. ``plan`` decides what
an import reads (months, manifests, files); ``writer`` writes one unit's rows and swaps its
periods in (``costs.services.imports.cost_import_run`` drives both).
"""
