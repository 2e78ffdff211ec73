"""Hook-level lineage: the datasets a run read and wrote, reported to Airflow's hook lineage collector
(what the OpenLineage provider reads for tasks that use a hook without an operator of ours)."""

from __future__ import annotations

import logging
from typing import Any

from airflow_provider_cdata_sync.lineage.model import RunLineage

log = logging.getLogger(__name__)


def report(hook: Any, lineage: RunLineage | None) -> int:
    """Add the run's inputs and outputs (as asset URIs) to the hook lineage collector; returns how many.

    :param hook: the hook that ran it (the collector's context).
    :param lineage: the run's lineage.
    """
    if lineage is None:
        return 0
    try:
        from airflow.providers.common.compat.lineage.hook import get_hook_lineage_collector
    except ImportError:  # pragma: no cover - common-compat too old
        return 0
    collector = get_hook_lineage_collector()
    count = 0
    for item in lineage.inputs:
        collector.add_input_asset(context=hook, uri=item.dataset.uri)
        count += 1
    for item in lineage.outputs:
        extra = {"records": item.rows, "run_id": lineage.run_id} if item.rows is not None else None
        collector.add_output_asset(context=hook, uri=item.dataset.uri, asset_extra=extra)
        count += 1
    return count
