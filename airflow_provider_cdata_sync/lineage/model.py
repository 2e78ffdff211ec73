"""The lineage of one run as plain data (no Airflow, no OpenLineage): the datasets it read and wrote,
with their columns, row counts and column lineage, and what the run was. :mod:`.facets` turns it into
OpenLineage facets, :mod:`.assets` into Airflow asset events, :mod:`.hook_lineage` into hook lineage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_provider_cdata_sync.lineage.naming import DatasetName


@dataclass(frozen=True)
class ColumnInfo:
    """A column of a dataset."""

    name: str
    data_type: str | None = None


@dataclass
class LineageDataset:
    """A dataset a run read or wrote.

    :param dataset: its OpenLineage identity (and asset URI).
    :param source_name: the connection (or connector) it belongs to, for the data source facet.
    :param columns: its columns, when the API listed them.
    :param rows: rows written (outputs: the task's records affected).
    :param column_sources: output column -> the input columns it is copied from
        ``(namespace, name, column)`` (plain copies only).
    :param tasks: the task ids (or table names) that wrote or read it.
    :param ok: whether a task that wrote it succeeded.
    """

    dataset: DatasetName
    source_name: str
    columns: list[ColumnInfo] = field(default_factory=list)
    rows: int | None = None
    column_sources: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    tasks: list[str] = field(default_factory=list)
    #: Whether a task that wrote it succeeded (outputs: only those get an asset event).
    ok: bool = True

    @property
    def key(self) -> tuple[str, str]:
        """Namespace and name: what makes two datasets the same."""
        return (self.dataset.namespace, self.dataset.name)

    def merge(self, other: LineageDataset) -> None:
        """Fold another sighting of the same dataset in (a pipeline writing a table twice)."""
        if other.rows is not None:
            self.rows = (self.rows or 0) + other.rows
        if not self.columns:
            self.columns = list(other.columns)
        for column, sources in other.column_sources.items():
            known = self.column_sources.setdefault(column, [])
            known.extend(s for s in sources if s not in known)
        self.tasks.extend(t for t in other.tasks if t not in self.tasks)
        self.ok = self.ok or other.ok


@dataclass
class TaskOutcome:
    """One task (or pipeline step) of the run, for the ``cdataSync`` run facet."""

    task: str
    status: str | None
    records: int | None = None
    error: str | None = None
    table: str | None = None
    run_id: str | None = None
    kind: str | None = None


@dataclass
class RunLineage:
    """Everything lineage knows about one run.

    :param service: ``CData Sync`` or ``AI Squared``.
    :param kind: ``job``, ``transformation``, ``pipeline`` or ``sync``.
    :param target_id: / :param target_name: what ran.
    :param run_id: the remote run (history) id.
    :param status: the run's status word as the server gave it.
    :param state: the normalised state (``success``, ``failed``...).
    :param server: the server's host.
    """

    service: str
    kind: str
    target_id: str
    target_name: str
    run_id: str | None
    status: str | None
    state: str
    server: str
    records: int | None = None
    error: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    inputs: list[LineageDataset] = field(default_factory=list)
    outputs: list[LineageDataset] = field(default_factory=list)
    tasks: list[TaskOutcome] = field(default_factory=list)
    #: What could not be read (lineage is then partial): one line each.
    problems: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def add_input(self, dataset: LineageDataset) -> LineageDataset:
        """Add (or merge into the known) input dataset."""
        return _add(self.inputs, dataset)

    def add_output(self, dataset: LineageDataset) -> LineageDataset:
        """Add (or merge into the known) output dataset."""
        return _add(self.outputs, dataset)

    def absorb(self, child: RunLineage) -> None:
        """A pipeline step's lineage into its pipeline's: the union of datasets, the step's tasks."""
        for dataset in child.inputs:
            self.add_input(dataset)
        for dataset in child.outputs:
            self.add_output(dataset)
        self.problems.extend(child.problems)


def _add(datasets: list[LineageDataset], dataset: LineageDataset) -> LineageDataset:
    for known in datasets:
        if known.key == dataset.key:
            known.merge(dataset)
            return known
    datasets.append(dataset)
    return dataset
