"""Lineage of CData Sync and AI Squared runs: OpenLineage datasets and facets, Airflow asset events and
hook lineage, from what the run did (docs/lineage.md).

- :mod:`.naming`: dataset names (OpenLineage naming spec) and asset URIs from connection properties.
- :mod:`.sql`: what ``REPLICATE`` and transformation queries read and write.
- :mod:`.model`: the lineage of one run as plain data.
- :mod:`.cdata_sync` / :mod:`.aisquared`: build it from a run with the provider's clients.
- :mod:`.facets`: OpenLineage facets and ``OperatorLineage`` (needs the ``[openlineage]`` extra).
- :mod:`.assets`: asset events through an ``AssetAlias``, and the ``cdata-sync`` URI scheme.
- :mod:`.hook_lineage`: inputs and outputs for Airflow's hook lineage collector.

Only :mod:`.facets`, :mod:`.assets` and :mod:`.hook_lineage` touch Airflow or OpenLineage, and only
inside their functions.
"""
