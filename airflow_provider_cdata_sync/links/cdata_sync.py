"""Extra links to the CData Sync console, read from XCom so they work in Airflow 3 and on failed tasks."""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

#: XCom key holding the console URL of the run a task started or watched.
CONSOLE_URL_XCOM_KEY = "cdata_sync_console_url"
RUN_ID_XCOM_KEY = "cdata_sync_run_id"


class _CDataSyncConsoleLink(BaseOperatorLink):
    """Base of the console links: the URL the task pushed to XCom as soon as it knew the run."""

    name = "CData Sync"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        """The console URL for this task instance (empty until the task has found its run)."""
        return XCom.get_value(key=CONSOLE_URL_XCOM_KEY, ti_key=ti_key) or ""


class CDataSyncJobLink(_CDataSyncConsoleLink):
    """Link to the job (and its run) in the CData Sync console."""

    name = "CData Sync Job"


class CDataSyncPipelineLink(_CDataSyncConsoleLink):
    """Link to the pipeline (and its run) in the CData Sync console."""

    name = "CData Sync Pipeline"


class CDataSyncTransformationLink(_CDataSyncConsoleLink):
    """Link to the transformation (and its run) in the CData Sync console."""

    name = "CData Sync Transformation"


LINKS_BY_KIND: dict[str, type[_CDataSyncConsoleLink]] = {
    "job": CDataSyncJobLink,
    "pipeline": CDataSyncPipelineLink,
    "transformation": CDataSyncTransformationLink,
}
