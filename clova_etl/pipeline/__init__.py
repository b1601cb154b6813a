"""The pipeline core: bucket → plan → idempotent OCR → raw store → Parquet → warehouse.

Every step is a plain function of :mod:`clova_etl.pipeline.steps` with JSON-ready inputs and
outputs; :func:`run_ingest` composes them for the CLI, and the Airflow tasks call them one by
one. See ``clova_etl.pipeline.ledger`` for the layout of the store.
"""

from __future__ import annotations

from clova_etl.pipeline.billing import Estimate, Spent, estimate, fit_budget
from clova_etl.pipeline.discovery import Discovered, discover_objects
from clova_etl.pipeline.errors import (
    ConfigurationError,
    LoadError,
    PipelineError,
    StorageError,
    UnsafeKeyError,
)
from clova_etl.pipeline.ingest import IngestReport, new_run_id, run_ingest
from clova_etl.pipeline.ledger import Claim, Ledger
from clova_etl.pipeline.planner import PlannedObject, PlannedRequest, plan_object
from clova_etl.pipeline.routing import Route, Router
from clova_etl.pipeline.steps import (
    BatchSummary,
    batches,
    discover,
    flatten_run,
    load_run,
    ocr_batch,
    plan,
    read_batch,
    replay,
    select_objects,
    store_batches,
)
from clova_etl.pipeline.storage import ObjectInfo, Storage

__all__ = [
    "BatchSummary",
    "Claim",
    "ConfigurationError",
    "Discovered",
    "Estimate",
    "IngestReport",
    "Ledger",
    "LoadError",
    "ObjectInfo",
    "PipelineError",
    "PlannedObject",
    "PlannedRequest",
    "Route",
    "Router",
    "Spent",
    "Storage",
    "StorageError",
    "UnsafeKeyError",
    "batches",
    "discover",
    "discover_objects",
    "estimate",
    "fit_budget",
    "flatten_run",
    "load_run",
    "new_run_id",
    "ocr_batch",
    "plan",
    "plan_object",
    "read_batch",
    "replay",
    "run_ingest",
    "select_objects",
    "store_batches",
]
