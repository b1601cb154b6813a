"""``clova-etl ingest``: discover → OCR (idempotent) → raw store → Parquet → warehouse, no Airflow.

Exit status: 0 when the run completed; 3 when it left requests pending — the quota (0023) or
the budget stopped it, another worker holds their claims (until the time printed), or they
failed transiently — the next run sends them; 4 when the warehouse stayed busy (another process
held the DuckDB file past ``warehouse.lock_wait_seconds``; the answers are stored, re-run to
load them); 2 for configuration errors; 1 for other failures.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

HELP = (
    "Run the ingestion steps once (the same steps as the Airflow DAG), or price them (--dry-run)."
)

EXIT_INCOMPLETE = 3
EXIT_WAREHOUSE_BUSY = 4


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by ingest, replay and prune: where the config and the store are."""
    parser.add_argument(
        "--config",
        metavar="TOML",
        help="configuration file (default: $CLOVA_ETL_CONFIG; then CLOVA_ETL_* variables)",
    )
    parser.add_argument(
        "--store",
        metavar="URI",
        help="where raw responses, claims and Parquet live (folder or s3://bucket/prefix)",
    )
    parser.add_argument("--store-endpoint-url", metavar="URL", help="S3-compatible endpoint")


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by ingest and replay: where the config, store and warehouse are."""
    add_store_arguments(parser)
    parser.add_argument("--warehouse", metavar="URI", help="duckdb:///file or postgresql://…")
    parser.add_argument("--run-id", help="run id to record (default: cli__<time>__<random>)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``clova-etl ingest``."""
    parser.add_argument(
        "--source", metavar="URI", help="bucket to read: folder (default) or s3://bucket/prefix"
    )
    parser.add_argument("--source-endpoint-url", metavar="URL", help="S3-compatible endpoint")
    parser.add_argument("--prefix", help="only keys under this prefix (default: inbox/)")
    add_config_arguments(parser)
    parser.add_argument(
        "--invoke-url", metavar="URL", help="CLOVA invoke URL (default: $CLOVA_OCR_INVOKE_URL)"
    )
    parser.add_argument(
        "--secret-env",
        metavar="VAR",
        help="read the X-OCR-SECRET from this environment variable (default: CLOVA_OCR_SECRET)",
    )
    parser.add_argument(
        "--since",
        metavar="TIME",
        help="data interval start (ISO, inclusive); without it only unfinished objects are taken",
    )
    parser.add_argument("--until", metavar="TIME", help="data interval end (ISO, exclusive)")
    parser.add_argument(
        "--dry-run", action="store_true", help="discover and price the run; send nothing"
    )
    parser.add_argument(
        "--replan",
        action="store_true",
        help="plan finished objects again under the current routes and limits (after changing "
        "them): unchanged requests cost nothing, changed ones are sent",
    )
    parser.add_argument(
        "--force",
        action="append",
        metavar="KEY_OR_URI",
        help="re-OCR this object even if answered before (repeatable)",
    )
    parser.add_argument("--max-calls", type=int, help="budget: billable calls for this run")
    parser.add_argument("--max-pages", type=int, help="budget: billable pages for this run")
    parser.add_argument("--budget-scope", help="budget scope shared by several runs (a backfill)")
    parser.add_argument("--scope-max-calls", type=int, help="budget: calls for the whole scope")
    parser.add_argument("--scope-max-pages", type=int, help="budget: pages for the whole scope")
    parser.add_argument("--batch-size", type=int, help="requests claimed and sent together")
    parser.add_argument("--concurrency", type=int, help="requests in flight")


def config_from_args(args: argparse.Namespace, *, with_source: bool = True) -> Any:
    """The PipelineConfig: file and environment, then the flags given."""
    import os

    from clova_etl.config import load_config

    overrides: dict[str, Any] = {
        "store": {"uri": args.store, "endpoint_url": args.store_endpoint_url},
        "warehouse": {"uri": args.warehouse},
    }
    if with_source:
        overrides["source"] = {
            "uri": args.source,
            "endpoint_url": args.source_endpoint_url,
            "prefix": args.prefix,
        }
        secret = os.environ.get(args.secret_env) if args.secret_env else None
        if args.secret_env and secret is None:
            raise SystemExit(f"clova-etl: environment variable {args.secret_env} is not set")
        overrides["ocr"] = {
            "invoke_url": args.invoke_url,
            "secret": secret,
            "concurrency": args.concurrency,
        }
        overrides["budget"] = {
            "max_calls_per_run": args.max_calls,
            "max_pages_per_run": args.max_pages,
            "scope": args.budget_scope,
            "max_calls_per_scope": args.scope_max_calls,
            "max_pages_per_scope": args.scope_max_pages,
        }
        overrides["run"] = {"batch_size": args.batch_size}
    return load_config(args.config, overrides=overrides)


def run(args: argparse.Namespace) -> int:
    """Run (or price) one ingestion."""
    import orjson

    from clova_etl.pipeline import run_ingest
    from clova_etl.pipeline.errors import ConfigurationError, PipelineError
    from clova_etl.warehouse import WarehouseBusyError, WarehouseError

    try:
        config = config_from_args(args)
        report = run_ingest(
            config,
            interval_start=args.since,
            interval_end=args.until,
            run_id=args.run_id,
            dry_run=args.dry_run,
            force=args.force,
            replan=args.replan,
        )
    except WarehouseBusyError as exc:
        print(f"clova-etl ingest: warehouse busy: {exc}", file=sys.stderr)
        return EXIT_WAREHOUSE_BUSY
    except WarehouseError as exc:
        print(f"clova-etl ingest: warehouse error: {exc}", file=sys.stderr)
        return 1
    except ConfigurationError as exc:
        print(f"clova-etl ingest: configuration error: {exc}", file=sys.stderr)
        return 2
    except (PipelineError, ValueError) as exc:
        print(f"clova-etl ingest: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        print(report.render())
    if report.dry_run or report.complete:
        return 0
    print(
        f"clova-etl ingest: incomplete: {len(report.pending)} request(s) pending"
        + (f" ({report.stopped}: {report.message})" if report.stopped else "")
        + "; the next run sends them (nothing already paid is sent again)",
        file=sys.stderr,
    )
    return EXIT_INCOMPLETE
