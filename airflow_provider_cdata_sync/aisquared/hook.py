"""Moved to :mod:`airflow_provider_cdata_sync.hooks.aisquared`; this path stays importable for DAGs
written against earlier releases."""

from airflow_provider_cdata_sync.hooks.aisquared import AISquaredHook, config_from_connection

__all__ = ["AISquaredHook", "config_from_connection"]
