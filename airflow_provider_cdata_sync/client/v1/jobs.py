"""Jobs (v1): ``client.jobs``: the ``jobs`` entity set and the job actions (executeJob, executeQuery,
cancelJob, getJobStatus, getlogs/getJobLog)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import httpx

from airflow_provider_cdata_sync.client.http import Call, D, operation, resolve
from airflow_provider_cdata_sync.client.models import Job, TaskRun
from airflow_provider_cdata_sync.client.v1 import odata
from airflow_provider_cdata_sync.client.v1.common import V1Resource, flag, pascal_body


class Jobs(V1Resource[D]):
    """The jobs (addressed by name; ids are kept as strings, they may be 16+ digit numbers)."""

    @operation
    def list(self, workspace: str | None = None) -> Call[builtins.list[Job]]:
        """All jobs of a workspace.

        :param workspace: the workspace id or name; the configured one by default.
        """
        return (yield from self._list("jobs", Job, workspace))

    @operation
    def get(self, job: str, workspace: str | None = None) -> Call[Job]:
        """One job by name.

        :param job: the job name.
        :param workspace: the workspace id or name; the configured one by default.
        """
        return (yield from self._one(self._request("GET", odata.entity_path("jobs", job), workspace), Job))

    @operation
    def resolve(self, job: str, workspace: str | None = None) -> Call[Job]:
        """Find a job by id or name (exact, then case-insensitive); the error lists the jobs.

        :param job: a job id or name.
        :param workspace: the workspace id or name; the configured one by default.
        """
        jobs = yield from self.list.steps(workspace)
        return resolve("job", jobs, job, lambda j: j.id, lambda j: j.name, self.profile.errors.lookup)

    @operation
    def create(self, name: str, workspace: str | None = None, **fields: Any) -> Call[Job]:
        """Create a job.

        :param name: its name.
        :param workspace: the workspace id or name; the configured one by default.
        :param fields: Source, Destination, Queries, ... in any case.
        """
        body = pascal_body({"JobName": name, **fields})
        ws = self._workspace_id(workspace)
        if ws is not None:
            body["WorkspaceId"] = ws
        return (yield from self._one(self._request("POST", "jobs", workspace, json=body), Job))

    @operation
    def update(self, job: str, workspace: str | None = None, **fields: Any) -> Call[Any]:
        """Update a job.

        :param job: the job name.
        :param workspace: the workspace id or name; the configured one by default.
        :param fields: fields to change, in any case.
        """
        request = self._request("PUT", odata.entity_path("jobs", job), workspace, json=pascal_body(fields))
        return (yield from self._json(request))

    @operation
    def delete(self, job: str, workspace: str | None = None) -> Call[None]:
        """Delete a job.

        :param job: the job name.
        :param workspace: the workspace id or name; the configured one by default.
        """
        yield from self._json(self._request("DELETE", odata.entity_path("jobs", job), workspace))

    # ------------------------------------------------------------------ actions
    @operation
    def execute(
        self, job: str, *, wait_for_results: bool = False, timeout: int = 0, workspace: str | None = None
    ) -> Call[builtins.list[TaskRun]]:
        """``executeJob``; without waiting it answers at once (then poll the status and history).

        :param job: the job name.
        :param wait_for_results: answer only when the run ended, with one row per task.
        :param timeout: seconds the server waits for results (0: no limit).
        :param workspace: the workspace id or name; the configured one by default.
        """
        body = {"JobName": job, "WaitForResults": flag(wait_for_results), "Timeout": str(timeout)}
        rows = yield from self._action("executeJob", body, workspace)
        return [TaskRun.model_validate(row) for row in rows]

    @operation
    def execute_query(
        self,
        job: str,
        queries: Sequence[str],
        *,
        wait_for_results: bool = False,
        workspace: str | None = None,
    ) -> Call[builtins.list[TaskRun]]:
        """``executeQuery``: run some of a job's queries.

        :param job: the job name.
        :param queries: the queries (as the job's tasks hold them).
        :param wait_for_results: answer only when the run ended.
        :param workspace: the workspace id or name; the configured one by default.
        """
        body: dict[str, Any] = {"JobName": job, "WaitForResults": flag(wait_for_results)}
        body.update({f"Query#{number}": query for number, query in enumerate(queries, start=1)})
        rows = yield from self._action("executeQuery", body, workspace)
        return [TaskRun.model_validate(row) for row in rows]

    @operation
    def cancel(self, job: str, workspace: str | None = None) -> Call[builtins.list[dict[str, Any]]]:
        """``cancelJob`` (its errors read "Job not running", "Job not found", "Cancellation failed").

        :param job: the job name.
        :param workspace: the workspace id or name; the configured one by default.
        """
        return (yield from self._action("cancelJob", {"JobName": job}, workspace, idempotent=True))

    @operation
    def status(
        self, job: str | None = None, workspace: str | None = None
    ) -> Call[builtins.list[dict[str, Any]]]:
        """``getJobStatus`` as raw rows: of one job (one top-level object with ``Status`` and
        ``Queries``, or per-query rows, depending on the server), or of every job when ``job`` is None.

        :param job: the job name; None for all jobs.
        :param workspace: the workspace id or name; the configured one by default.
        """
        body = {"JobName": job, "PushOnQuery": "true"} if job else {}
        return (yield from self._action("getJobStatus", body, workspace, idempotent=True))

    @operation
    def logs(
        self, job: str, *, days: int = 1, history_id: str | None = None, workspace: str | None = None
    ) -> Call[str]:
        """The job's log text of the last ``days`` days: ``POST getlogs`` as CData's own client calls it,
        else the documented ``getJobLog`` action. The answer may be text, a JSON string or rows holding the
        text; it is returned as text ('' when there is none).

        :param job: the job name.
        :param days: how many days back.
        :param history_id: one run only, where the server supports it.
        :param workspace: the workspace id or name; the configured one by default.
        """
        body = pascal_body({"JobName": job, "Days": days, "HistoryId": history_id})
        for action in ("getlogs", "getJobLog"):
            request = self._request(
                "POST", action, workspace, json=body, idempotent=True, accept_statuses=frozenset({404, 405})
            )
            response: httpx.Response = yield request
            if response.status_code in (404, 405):
                continue
            return log_text(response)
        return ""


def log_text(response: httpx.Response) -> str:
    """Log text from any of the answer shapes: text/plain, a JSON string, or rows with the text in a field."""
    if "json" not in response.headers.get("content-type", ""):
        return response.text
    try:
        body = response.json()
    except ValueError:
        return response.text
    if isinstance(body, str):
        return body
    rows: list[Any] = (
        body.get("value", [body]) if isinstance(body, dict) else body if isinstance(body, list) else []
    )
    texts = []
    for row in rows:
        if isinstance(row, str):
            texts.append(row)
        elif isinstance(row, dict):
            for key in (
                "Log",
                "log",
                "Content",
                "content",
                "Text",
                "text",
                "Logs",
                "logs",
                "Result",
                "result",
            ):
                if isinstance(row.get(key), str):
                    texts.append(row[key])
                    break
    return "\n".join(text for text in texts if text)
