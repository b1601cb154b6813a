"""How configuration reaches the tasks: Variable (path or JSON), $CLOVA_ETL_CONFIG, run params,
connections; all without touching DAG code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow

SECRET = "cfg-test-secret-91"


@pytest.fixture
def conn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_CLOVA_OCR_DEFAULT",
        json.dumps(
            {
                "conn_type": "clova_ocr",
                "host": "http://127.0.0.1:9/custom/v1/1/a/general",
                "password": SECRET,
                "extra": {"concurrency": 2},
            }
        ),
    )


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "clova-etl.toml"
    path.write_text(text)
    return path


def test_variable_naming_a_toml_file(
    airflow_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, conn: None
) -> None:
    from clova_etl.airflow.runtime import load_run_config

    path = _toml(tmp_path, '[source]\nuri = "s3://docs"\n[run]\nbatch_size = 7\n')
    monkeypatch.setenv("AIRFLOW_VAR_CLOVA_ETL_CONFIG", str(path))
    config = load_run_config({"clova_ocr_conn_id": "clova_ocr_default"})
    assert (config.source.uri, config.run.batch_size) == ("s3://docs", 7)
    assert config.ocr.invoke_url == "http://127.0.0.1:9/custom/v1/1/a/general"
    assert config.ocr.concurrency == 2
    assert SECRET not in json.dumps(config.public_dict())


def test_env_file_then_variable_json_then_run_params(
    airflow_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, conn: None
) -> None:
    from clova_etl.airflow.runtime import load_run_config

    path = _toml(tmp_path, '[warehouse]\nuri = "duckdb:///a.duckdb"\n[run]\nbatch_size = 3\n')
    monkeypatch.setenv("CLOVA_ETL_CONFIG", str(path))
    monkeypatch.setenv(
        "AIRFLOW_VAR_CLOVA_ETL_CONFIG", json.dumps({"run": {"batch_size": 5}, "budget": {}})
    )
    params = {
        "config_overrides": {"budget": {"max_calls_per_run": 9}},
        "max_pages": 40,
        "budget_scope": "backfill-q1",
        "scope_max_calls": 100,
    }
    config = load_run_config(params, with_ocr=False)
    assert config.warehouse.uri == "duckdb:///a.duckdb"  # from the file
    assert config.run.batch_size == 5  # the Variable's JSON wins over the file
    assert config.budget.max_calls_per_run == 9  # the run's overrides
    assert (config.budget.max_pages_per_run, config.budget.scope) == (40, "backfill-q1")
    assert config.budget.max_calls_per_scope == 100
    assert config.ocr.invoke_url is None  # with_ocr=False: no connection read


def test_no_endpoint_is_a_clear_error(airflow_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from clova_etl.airflow.runtime import load_run_config

    monkeypatch.delenv("CLOVA_OCR_INVOKE_URL", raising=False)
    with pytest.raises(ValueError, match="create the Airflow connection 'clova_ocr_default'"):
        load_run_config({"clova_ocr_conn_id": "clova_ocr_default"})
    with pytest.raises(ValueError, match="Template OCR connection 'nope' does not exist"):
        monkeypatch.setenv("CLOVA_OCR_INVOKE_URL", "http://127.0.0.1:9/x/general")
        monkeypatch.setenv("CLOVA_OCR_SECRET", "s")
        load_run_config({"clova_ocr_template_conn_id": "nope"})


def test_bad_variable_says_what_it_expected(
    airflow_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clova_etl.airflow.runtime import load_run_config

    monkeypatch.setenv("AIRFLOW_VAR_CLOVA_ETL_CONFIG", "{not json")
    with pytest.raises(ValueError, match="neither a file path nor a JSON object"):
        load_run_config({}, with_ocr=False)


def test_provider_info_declares_the_connection_type(airflow_home: Path) -> None:
    import importlib.resources

    import jsonschema

    from clova_etl.airflow.provider import get_provider_info

    info = get_provider_info()
    schema_text = (
        importlib.resources.files("airflow").joinpath("provider_info.schema.json").read_text()
    )
    jsonschema.validate(info, json.loads(schema_text))
    (conn_type,) = info["connection-types"]
    assert conn_type == {
        "connection-type": "clova_ocr",
        "hook-class-name": "clova_etl.airflow.hooks.ClovaOCRHook",
    }
