"""Moved to :mod:`airflow_provider_cdata_sync.sensors.aisquared`; this path stays importable for DAGs
written against earlier releases."""

from airflow_provider_cdata_sync.sensors.aisquared import AISquaredSyncRunSensor

__all__ = ["AISquaredSyncRunSensor"]
