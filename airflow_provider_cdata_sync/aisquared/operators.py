"""Moved to :mod:`airflow_provider_cdata_sync.operators.aisquared`; this path stays importable for DAGs
written against earlier releases."""

from airflow_provider_cdata_sync.operators.aisquared import (
    RUN_ID_XCOM_KEY,
    SYNC_XCOM_KEY,
    AISquaredCreateSyncOperator,
    AISquaredRunSyncOperator,
)

__all__ = ["RUN_ID_XCOM_KEY", "SYNC_XCOM_KEY", "AISquaredCreateSyncOperator", "AISquaredRunSyncOperator"]
