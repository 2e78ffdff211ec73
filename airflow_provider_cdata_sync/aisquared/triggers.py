"""Moved to :mod:`airflow_provider_cdata_sync.triggers.aisquared`; this path stays importable because
triggers serialised by earlier releases name it."""

from airflow_provider_cdata_sync.triggers.aisquared import AISquaredSyncRunTrigger

__all__ = ["AISquaredSyncRunTrigger"]
