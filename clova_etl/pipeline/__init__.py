"""The pipeline core: bucket → plan → idempotent OCR → raw store → Parquet → warehouse.

Every stage is a plain function with JSON-ready inputs and outputs, one module each:
:mod:`~clova_etl.pipeline.plan` (discover, plan, batches), :mod:`~clova_etl.pipeline.ocr` (one
batch of calls), :mod:`~clova_etl.pipeline.publish` (flatten, load) and
:mod:`~clova_etl.pipeline.replay`. :func:`run_ingest` composes them for the CLI, and the Airflow
tasks call them one by one. :mod:`clova_etl.pipeline.ledger` is the state they share (claims,
charges, budgets, the rate limit) and draws the layout of the store.
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
from clova_etl.pipeline.ledger import Claim, Ledger, open_ledger
from clova_etl.pipeline.ocr import BatchSummary, ocr_batch
from clova_etl.pipeline.plan import (
    batches,
    discover,
    plan,
    read_batch,
    select_objects,
    store_batches,
)
from clova_etl.pipeline.planner import PlannedObject, PlannedRequest, plan_object
from clova_etl.pipeline.publish import flatten_run, load_run
from clova_etl.pipeline.replay import replay
from clova_etl.pipeline.routing import Route, Router
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
    "open_ledger",
    "plan",
    "plan_object",
    "read_batch",
    "replay",
    "run_ingest",
    "select_objects",
    "store_batches",
]
