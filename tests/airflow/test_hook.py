"""ClovaOCRHook: the clova_ocr connection read from the environment, validated, never leaking."""

from __future__ import annotations

import json
import pickle
import traceback
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow

SECRET = "hook-test-secret-7f3a"


def _conn(
    monkeypatch: pytest.MonkeyPatch, conn_id: str = "clova_ocr_default", **fields: object
) -> None:
    body = {"conn_type": "clova_ocr", "host": "http://127.0.0.1:9/custom/v1/1/abc/general"}
    body["password"] = SECRET
    body.update(fields)  # type: ignore[arg-type]
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(body))


def test_form_relabels_invoke_url_and_secret_key(airflow_home: Path) -> None:
    from clova_etl.airflow import ClovaOCRHook

    ui = ClovaOCRHook.get_ui_field_behaviour()
    assert ui["relabeling"] == {"host": "Invoke URL", "password": "Secret Key"}
    assert {"login", "port", "schema"} <= set(ui["hidden_fields"])
    assert ClovaOCRHook.conn_type == "clova_ocr"
    assert ClovaOCRHook.default_conn_name == "clova_ocr_default"
    assert ClovaOCRHook.conn_name_attr == "clova_ocr_conn_id"


def test_connection_becomes_ocr_settings(
    airflow_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clova_etl.airflow import ClovaOCRHook

    _conn(monkeypatch, extra={"rate_limit_per_second": 2.5, "concurrency": 3, "timeout_seconds": 9})
    hook = ClovaOCRHook()
    ocr = hook.get_ocr_config()
    assert ocr.invoke_url == "http://127.0.0.1:9/custom/v1/1/abc/general"
    assert ocr.secret is not None and ocr.secret.get_secret_value() == SECRET
    assert (ocr.rate_limit_per_second, ocr.concurrency, ocr.timeout_seconds) == (2.5, 3, 9.0)
    assert SECRET not in repr(hook) + repr(ocr) + str(ocr)
    assert hook.test_connection() == (
        True,
        "connection settings are valid for http://127.0.0.1:9/custom/v1/1/abc/general",
    )


def test_connection_uri_form_keeps_the_path(
    airflow_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clova_etl.airflow import ClovaOCRHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_CLOVA_URI",
        f"clova-ocr://:{SECRET}@abc.apigw.ntruss.com/custom/v1/123/xyz/general",
    )
    ocr = ClovaOCRHook("clova_uri").get_ocr_config()
    assert ocr.invoke_url == "https://abc.apigw.ntruss.com/custom/v1/123/xyz/general"


def test_pipeline_config_takes_the_connection_endpoints(
    airflow_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clova_etl.airflow import ClovaOCRHook
    from clova_etl.config import PipelineConfig

    _conn(monkeypatch, extra={"concurrency": 2})
    _conn(monkeypatch, "clova_ocr_tpl", host="http://127.0.0.1:9/custom/v1/2/def/infer")
    base = PipelineConfig.model_validate({"ocr": {"max_retries": 1, "concurrency": 8}})
    config = ClovaOCRHook().apply_to(base)
    config = ClovaOCRHook("clova_ocr_tpl").apply_to(config, template=True)
    assert config.ocr.invoke_url == "http://127.0.0.1:9/custom/v1/1/abc/general"
    assert config.ocr.template_invoke_url == "http://127.0.0.1:9/custom/v1/2/def/infer"
    # Connection extras win; what the connection does not say comes from the config.
    assert (config.ocr.concurrency, config.ocr.max_retries) == (2, 1)
    assert SECRET not in json.dumps(config.public_dict())


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"extra": {"rate_limit": 5}}, "unknown extra field(s) ['rate_limit']"),
        ({"extra": {"concurrency": "many"}}, "concurrency"),
        ({"extra": {"timeout_seconds": -1}}, "timeout_seconds"),
        ({"password": None}, "has no password: set it to the secret key"),
        ({"host": None}, "has no host: set it to the invoke URL"),
    ],
)
def test_bad_connections_say_what_to_fix_without_the_secret(
    airflow_home: Path, monkeypatch: pytest.MonkeyPatch, fields: dict[str, object], message: str
) -> None:
    from clova_etl.airflow import ClovaOCRHook

    _conn(monkeypatch, **fields)
    with pytest.raises(ValueError, match="clova_ocr_default") as info:
        ClovaOCRHook().get_ocr_config()
    assert message in str(info.value)
    shown = "".join(traceback.format_exception(info.value)) + repr(info.value)
    assert SECRET not in shown
    ok, why = ClovaOCRHook().test_connection()
    assert not ok and message in why


def test_hook_pickles_without_the_secret(
    airflow_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clova_etl.airflow import ClovaOCRHook

    _conn(monkeypatch)
    hook = ClovaOCRHook()
    hook.get_ocr_config()
    assert SECRET.encode() not in pickle.dumps(hook)


def test_get_conn_calls_the_endpoint_once_per_request(
    airflow_home: Path, monkeypatch: pytest.MonkeyPatch, start_ocr_server, sample_docs
) -> None:  # type: ignore[no-untyped-def]
    from clova_etl.airflow import ClovaOCRHook
    from clova_etl.client import OCRRequest

    server = start_ocr_server()
    _conn(monkeypatch, host=server.invoke_url("general"), password=server.secret)
    with ClovaOCRHook() as hook:
        client = hook.get_conn()
        assert hook.get_conn() is client  # built once
        result = client.ocr(OCRRequest(request_id="hook-1", source=sample_docs["receipt-ko"]))
    assert result.error is None and result.response is not None
    assert server.stats()["calls_by_request_id"] == {"hook-1": 1}
