"""Run history (v1): ``client.history``.

Real servers do not reliably support ``$filter`` (nor ``$count``) on ``history``: CData's own client
documents "OData filters currently fail due to API limitation. Use 'top' parameter and filter results
client-side instead". So :meth:`History.recent` reads the newest records page by page
(``$orderby=RunStartDate desc`` with ``$top``/``$skip``) and filters on the client; a ``$filter`` is tried
first only as an optimisation, and never again on that client once the server refused it with a 4xx.
"""

from __future__ import annotations

import builtins
import itertools
from datetime import UTC, datetime

from airflow_provider_cdata_sync.client.control import CLOCK_SKEW
from airflow_provider_cdata_sync.client.errors import APIError
from airflow_provider_cdata_sync.client.http import Call, D, operation, parse_model
from airflow_provider_cdata_sync.client.models import Run
from airflow_provider_cdata_sync.client.v1 import odata
from airflow_provider_cdata_sync.client.v1.common import V1Resource

PAGE_SIZE = 100
#: Most history pages read to find a job's runs (5,000 records) before giving up.
MAX_PAGES = 50
_EPOCH = datetime.min.replace(tzinfo=UTC)


class History(V1Resource[D]):
    """History records of every job, transformation and pipeline run."""

    @operation
    def list(
        self,
        *,
        filter: str | None = None,
        orderby: str | None = None,
        top: int | None = None,
        skip: int | None = None,
        select: str | None = None,
        workspace: str | None = None,
    ) -> Call[builtins.list[Run]]:
        """History records with raw OData options (build ``filter`` with the ``odata`` helpers; real
        servers may refuse it: see :meth:`recent`).

        :param filter: a ``$filter`` expression.
        :param orderby: ``RunStartDate desc`` and the like.
        :param top: at most this many records.
        :param skip: skip this many.
        :param select: only these fields.
        :param workspace: the workspace id or name; the configured one by default.
        """
        return (
            yield from self._list(
                "history", Run, workspace, filter=filter, orderby=orderby, top=top, skip=skip, select=select
            )
        )

    @operation
    def recent(
        self,
        *,
        job: str | None = None,
        run_id: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        workspace: str | None = None,
    ) -> Call[builtins.list[Run]]:
        """The newest history records matching a job (by name or id), a run id and/or a start time,
        newest first, without depending on ``$filter``.

        :param job: the job (or transformation) name or id.
        :param run_id: only this run.
        :param since: only runs started at or after this time (clock skew allowed).
        :param limit: stop after this many matches.
        :param workspace: the workspace id or name; the configured one by default.
        """
        floor = since - CLOCK_SKEW if since is not None else None

        def matches(run: Run) -> bool:
            if job is not None and job not in (run.job_name, run.job_id):
                return False
            if run_id is not None and str(run.id) != str(run_id):
                return False
            return floor is None or (run.start_time is not None and run.start_time >= floor)

        if getattr(self._runner, "history_filter_ok", None) is not False and (job or run_id):
            filtered = yield from self._try_filter(job, run_id, floor, workspace)
            if filtered is not None:
                return _newest_first([run for run in filtered if matches(run)])[:limit]
        found: builtins.list[Run] = []
        for number in range(MAX_PAGES):
            params = {"$orderby": "RunStartDate desc", "$top": PAGE_SIZE, "$skip": number * PAGE_SIZE or None}
            page = yield from self._page(self._request("GET", "history", workspace, params=params))
            runs = [
                parse_model(self._request("GET", "history"), Run, item, self.profile) for item in page.items
            ]
            if len(runs) > PAGE_SIZE or not _is_newest_first(runs):
                # The server ignored $top or $orderby: read it all and sort here.
                if page.following is not None:
                    rest = yield from self._collect(page.following)
                    runs += [
                        parse_model(self._request("GET", "history"), Run, item, self.profile) for item in rest
                    ]
                return _newest_first([run for run in runs if matches(run)])[:limit]
            found.extend(run for run in runs if matches(run))
            oldest = runs[-1].start_time if runs else None
            if (
                len(runs) < PAGE_SIZE
                or (limit is not None and len(found) >= limit)
                or (floor is not None and oldest is not None and oldest < floor)
            ):
                break
        return found[:limit]

    def _try_filter(
        self, job: str | None, run_id: str | None, floor: datetime | None, workspace: str | None
    ) -> Call[builtins.list[Run] | None]:
        clauses = []
        if run_id is not None:
            clauses.append(odata.eq("Id", int(run_id) if str(run_id).isdigit() else str(run_id)))
        elif job is not None:
            clauses.append(odata.eq("JobName", job))
        if floor is not None and run_id is None:
            clauses.append(odata.ge("RunStartDate", floor))
        try:
            runs = yield from self.list.steps(
                filter=odata.all_of(*clauses), orderby="RunStartDate desc", workspace=workspace
            )
        except APIError as exc:
            if not 400 <= exc.status_code < 500:
                raise
            self._runner.history_filter_ok = False  # this server refuses filters: page from now on
            return None
        self._runner.history_filter_ok = True
        return runs


def _is_newest_first(runs: list[Run]) -> bool:
    times = [run.start_time for run in runs if run.start_time is not None]
    return all(a >= b for a, b in itertools.pairwise(times))


def _newest_first(runs: list[Run]) -> list[Run]:
    return sorted(runs, key=lambda run: run.start_time or _EPOCH, reverse=True)
