"""Console links: read from XCom, named per kind, attached to the operators."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_cdata_sync.links import cdata_sync as links
from airflow_provider_cdata_sync.links.cdata_sync import (
    CONSOLE_URL_XCOM_KEY,
    LINKS_BY_KIND,
    CDataSyncJobLink,
    CDataSyncPipelineLink,
    CDataSyncTransformationLink,
)
from airflow_provider_cdata_sync.operators.cdata_sync import (
    CDataSyncRunJobOperator,
    CDataSyncRunPipelineOperator,
    CDataSyncRunTransformationOperator,
)

TI_KEY = object()  # stands for a TaskInstanceKey: the link only passes it on


@pytest.fixture
def xcom_store(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[Any, str], Any]:
    """XCom.get_value answered from a dict keyed by (ti_key, key)."""
    store: dict[tuple[Any, str], Any] = {}

    def get_value(*, ti_key: Any, key: str) -> Any:
        return store.get((ti_key, key))

    monkeypatch.setattr(links.XCom, "get_value", staticmethod(get_value))
    return store


@pytest.mark.parametrize("link_class", [CDataSyncJobLink, CDataSyncPipelineLink, CDataSyncTransformationLink])
def test_link_is_the_console_url_pushed_by_the_task(
    xcom_store: dict[tuple[Any, str], Any], link_class: type
) -> None:
    url = "http://sync:8181/console/jobs/j-1/history/7"
    xcom_store[(TI_KEY, CONSOLE_URL_XCOM_KEY)] = url
    xcom_store[(object(), CONSOLE_URL_XCOM_KEY)] = "http://other-task"

    assert link_class().get_link(None, ti_key=TI_KEY) == url


def test_link_is_empty_until_the_task_found_its_run(xcom_store: dict[tuple[Any, str], Any]) -> None:
    assert CDataSyncJobLink().get_link(None, ti_key=TI_KEY) == ""


def test_link_names_per_kind() -> None:
    assert CDataSyncJobLink.name == "CData Sync Job"
    assert CDataSyncPipelineLink.name == "CData Sync Pipeline"
    assert CDataSyncTransformationLink.name == "CData Sync Transformation"
    assert {
        "job": CDataSyncJobLink,
        "pipeline": CDataSyncPipelineLink,
        "transformation": CDataSyncTransformationLink,
    } == LINKS_BY_KIND


@pytest.mark.parametrize(
    ("operator", "name"),
    [
        (CDataSyncRunJobOperator, "CData Sync Job"),
        (CDataSyncRunPipelineOperator, "CData Sync Pipeline"),
        (CDataSyncRunTransformationOperator, "CData Sync Transformation"),
    ],
)
def test_each_run_operator_shows_its_link(operator: type, name: str) -> None:
    assert [link.name for link in operator.operator_extra_links] == [name]
