"""Apache Airflow provider for CData Sync."""

__version__ = "0.1.0"
