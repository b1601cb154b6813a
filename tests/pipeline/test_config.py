"""Configuration: defaults, TOML, environment, validation, secrets kept out."""

from __future__ import annotations

import pickle
from pathlib import Path

import orjson
import pytest
from pydantic import ValidationError

from clova_etl.config import PipelineConfig, RouteRule, load_config

EXAMPLE_TOML = """
[source]
uri = "s3://scans/incoming"
prefix = "inbox/"
endpoint_url = "http://127.0.0.1:9000"
region_name = "us-east-1"

[store]
uri = "./data/store"

[warehouse]
uri = "postgresql://postgres@127.0.0.1:5432/test"

[ocr]
invoke_url = "https://example.apigw.ntruss.com/custom/v1/1/abc"
concurrency = 2
rate_limit_per_second = 5

[[routes]]
name = "receipts"
pattern = "inbox/receipts/**"
api = "general"
lang = "KO,ja"
enable_table_detection = true

[[routes]]
name = "forms"
pattern = "inbox/forms/{template_id}/**"
api = "template"

[limits]
general_max_pages = 8

[budget]
max_calls_per_run = 100
max_pages_per_run = 500

[run]
batch_size = 8
"""


def test_defaults_are_the_embedded_local_setup() -> None:
    config = load_config(env={})
    assert config.source.uri == "./data/bucket"
    assert config.store.uri == "./data/store"
    assert config.warehouse.uri.startswith("duckdb:///")
    assert [r.name for r in config.routes] == ["general", "template"]
    assert config.routes[0].enable_table_detection is True
    assert config.ocr.invoke_url is None and config.ocr.secret is None


def test_toml_then_env_then_overrides(tmp_path: Path) -> None:
    path = tmp_path / "clova.toml"
    path.write_text(EXAMPLE_TOML)
    env = {
        "CLOVA_ETL_CONFIG": str(path),
        "CLOVA_ETL_BUDGET_MAX_CALLS_PER_RUN": "7",
        "CLOVA_ETL_SOURCE_KEY": "AKIAEXAMPLE",
        "CLOVA_ETL_SOURCE_SECRET": "bucket-secret-value",
        "CLOVA_OCR_SECRET": "ocr-secret-value",
        "CLOVA_ETL_RUN_CLAIM_TTL_SECONDS": "60",
    }
    config = load_config(env=env, overrides={"run": {"batch_size": 3, "claim_ttl_seconds": None}})
    assert config.source.uri == "s3://scans/incoming"
    assert config.source.storage_options() == {
        "client_kwargs": {"endpoint_url": "http://127.0.0.1:9000", "region_name": "us-east-1"},
        "key": "AKIAEXAMPLE",
        "secret": "bucket-secret-value",
    }
    assert config.budget.max_calls_per_run == 7  # env beats the file
    assert config.budget.max_pages_per_run == 500
    assert config.run.batch_size == 3  # overrides beat env
    assert config.run.claim_ttl_seconds == 60  # None overrides are ignored
    assert config.limits.general_max_pages == 8
    receipts, forms = config.routes
    assert receipts.lang == "ko,ja"  # canonical spelling
    assert forms.api == "template"
    assert config.ocr.secret is not None
    assert config.ocr.secret.get_secret_value() == "ocr-secret-value"


def test_secrets_never_serialised(tmp_path: Path) -> None:
    config = load_config(
        env={
            "CLOVA_OCR_SECRET": "ocr-secret-value",
            "CLOVA_ETL_STORE_SECRET": "store-secret-value",
            "CLOVA_OCR_INVOKE_URL": "http://127.0.0.1:1/x",
        }
    )
    for text in (
        repr(config),
        str(config),
        orjson.dumps(config.public_dict()).decode(),
        config.model_dump_json(),
        repr(pickle.loads(pickle.dumps(config))),
    ):
        assert "ocr-secret-value" not in text
        assert "store-secret-value" not in text
    assert "secret" not in config.public_dict()["ocr"]


def test_routes_from_env_json() -> None:
    routes = [{"name": "all", "pattern": "**", "api": "general"}]
    config = load_config(env={"CLOVA_ETL_ROUTES": orjson.dumps(routes).decode()})
    assert [r.pattern for r in config.routes] == ["**"]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"pattern": "a/**", "api": "general", "template_ids": [1]}, "template_ids"),
        ({"pattern": "a/**", "api": "template", "enable_table_detection": True}, "General"),
        ({"pattern": "a/{template_id}/**", "api": "general"}, "template_id"),
        ({"pattern": "a/**", "lang": "fr"}, "lang"),
        ({"pattern": "/abs/**"}, "relative"),
    ],
)
def test_route_validation(rule: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RouteRule(name="r", **rule)  # type: ignore[arg-type]


def test_unknown_env_variable_is_an_error() -> None:
    with pytest.raises(ValueError, match="CLOVA_ETL_SOURCE_NOPE"):
        load_config(env={"CLOVA_ETL_SOURCE_NOPE": "x"})


def test_unknown_toml_key_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[source]\nurl = "typo"\n')
    with pytest.raises(ValidationError, match="url"):
        load_config(path, env={})


def test_config_is_plain_pydantic() -> None:
    import pydantic

    config = PipelineConfig()
    assert isinstance(config, pydantic.BaseModel)
    # Plain data: it survives a JSON round trip (XCom, Variables) and refuses unknown keys.
    assert PipelineConfig.model_validate_json(config.model_dump_json()) == config
    with pytest.raises(pydantic.ValidationError, match="no_such_section"):
        PipelineConfig.model_validate({"no_such_section": {}})
