"""What the clova_ocr tasks do at run time: Airflow context in, library call, JSON summary out.

Each function reads the running task's context (params, data interval, run id), builds the same
:class:`~clova_etl.config.PipelineConfig` the CLI builds, and calls one
:mod:`clova_etl.pipeline` step. Nothing here decides which object is OCR'd or how: that is the
library's job. Return values go to XCom, so they are JSON and never hold a secret.

How configuration reaches a task, later sources winning:

1. the defaults of :class:`~clova_etl.config.PipelineConfig`;
2. a TOML file: the Airflow Variable ``clova_etl_config`` when it holds a path, else
   ``$CLOVA_ETL_CONFIG``;
3. ``CLOVA_ETL_<SECTION>_<FIELD>`` environment variables;
4. the Variable ``clova_etl_config`` when it holds a JSON object (nested like the TOML);
5. the run's ``config_overrides`` and budget params;
6. the OCR endpoint of the ``clova_ocr_conn_id`` connection (and the Template-domain connection),
   when that connection exists.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clova_etl.config import PipelineConfig

__all__ = ["CONFIG_VARIABLE", "load_run_config", "run_interval"]

CONFIG_VARIABLE = "clova_etl_config"

# Run param -> (config section, field).
_BUDGET_PARAMS = {
    "max_calls": ("budget", "max_calls_per_run"),
    "max_pages": ("budget", "max_pages_per_run"),
    "budget_scope": ("budget", "scope"),
    "scope_max_calls": ("budget", "max_calls_per_scope"),
    "scope_max_pages": ("budget", "max_pages_per_scope"),
}


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        elif value is not None:
            out[key] = value
    return out


def _variable() -> tuple[str | None, dict[str, Any]]:
    """The config Variable as (file path, overrides); both empty when it is not set."""
    from airflow.sdk import Variable

    raw = Variable.get(CONFIG_VARIABLE, default=None)
    if raw is None or not str(raw).strip():
        return None, {}
    text = str(raw).strip()
    if not text.startswith("{"):
        return text, {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(
            f"Airflow Variable {CONFIG_VARIABLE!r} is neither a file path nor a JSON object: {exc}"
        ) from None
    return None, data


def load_run_config(params: Mapping[str, Any], *, with_ocr: bool = True) -> PipelineConfig:
    """The pipeline configuration for this run (see the module docstring for the order)."""
    from clova_etl.config import load_config

    path, overrides = _variable()
    overrides = _merge(overrides, params.get("config_overrides") or {})
    for name, (section, field) in _BUDGET_PARAMS.items():
        if params.get(name) is not None:
            overrides = _merge(overrides, {section: {field: params[name]}})
    config = load_config(path, overrides=overrides)
    if with_ocr:
        config = _with_connections(config, params)
    return config


def _with_connections(config: PipelineConfig, params: Mapping[str, Any]) -> PipelineConfig:
    from clova_etl.airflow.hooks import ClovaOCRHook

    conn_id = params.get("clova_ocr_conn_id") or ClovaOCRHook.default_conn_name
    if _connection_exists(conn_id):
        config = ClovaOCRHook(conn_id).apply_to(config)
    elif not config.ocr.invoke_url:
        raise ValueError(
            f"no CLOVA OCR endpoint: create the Airflow connection {conn_id!r} (host = invoke "
            "URL, password = secret key) or set ocr.invoke_url/ocr.secret in the configuration"
        )
    template_conn_id = params.get("clova_ocr_template_conn_id")
    if template_conn_id:
        if not _connection_exists(template_conn_id):
            raise ValueError(f"the Template OCR connection {template_conn_id!r} does not exist")
        config = ClovaOCRHook(template_conn_id).apply_to(config, template=True)
    return config


def _connection_exists(conn_id: str) -> bool:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return False
    return True


def run_interval(context: Mapping[str, Any]) -> tuple[datetime, datetime]:
    """The run's ``[start, end)``: ``from_date``/``to_date`` params, else the data interval."""
    import pendulum

    params = context.get("params") or {}
    start = context.get("data_interval_start")
    end = context.get("data_interval_end")
    if params.get("from_date"):
        start = pendulum.parse(params["from_date"], tz="UTC")
    if params.get("to_date"):
        end = pendulum.parse(params["to_date"], tz="UTC")
    if start is None or end is None:
        raise ValueError("this run has no data interval: give from_date and to_date")
    if end < start:
        raise ValueError(f"the interval ends ({end}) before it starts ({start})")
    return start, end
