"""What a user reads about a run: failure messages, the task table, the bounded remote log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_cdata_sync.client.control import RunLog, Target
from airflow_provider_cdata_sync.client.models import Run, TaskRun
from airflow_provider_cdata_sync.reporting import (
    LOG_GROUP_END,
    LOG_GROUP_START,
    LogPrinter,
    failure_message,
    grouped,
    run_summary,
    task_table,
)

TARGET = Target("job", "j-1", "Nightly", "default", ("c1",))
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def task(table: str, status: str, error: str | None = None, records: int | None = 10) -> TaskRun:
    return TaskRun(
        task_id=f"t-{table}",
        table=table,
        status=status,
        error=error,
        records_affected=records,
        start_time=T0,
        end_time=T0 + timedelta(seconds=1.5),
    )


def run(status: str | None, *tasks: TaskRun, **fields: Any) -> Run:
    return Run(id=fields.pop("id", "7"), status=status, tasks=list(tasks), **fields)


def lines(count: int, width: int = 8) -> str:
    return "".join(f"line-{i:0{width - 5}d}\n" for i in range(count))


# ------------------------------------------------------------------------------- failure_message
@pytest.mark.parametrize("status", ["Success", "Completed", "0 of 3 Tasks Failed"])
def test_success_is_no_failure(status: str) -> None:
    assert failure_message(TARGET, run(status, task("orders", "Success"))) is None


def test_warning_passes_unless_fail_on_warnings() -> None:
    warned = run("Completed with warnings", task("orders", "Success"), error="3 values truncated")

    assert failure_message(TARGET, warned) is None
    assert failure_message(TARGET, warned, fail_on_warnings=True) == (
        "CData Sync job 'Nightly' run 7 finished with warnings (fail_on_warnings is set): 3 values truncated"
    )
    assert failure_message(TARGET, run("Warning"), fail_on_warnings=True).endswith(": Warning")


def test_failed_run_names_each_failed_task_and_its_error() -> None:
    failed = run(
        "Failed",
        task("customers", "Success"),
        task("orders", "Failed", "no such table: orders"),
        task("items", "Failed"),
        error="2 of 3 tasks failed",
    )

    assert failure_message(TARGET, failed) == (
        "CData Sync job 'Nightly' run 7 failed. failed tasks: [orders] no such table: orders; [items] failed."
    )


def test_failed_run_without_tasks_gives_the_run_error_or_details() -> None:
    assert failure_message(TARGET, run("Error", error="Out of memory")) == (
        "CData Sync job 'Nightly' run 7 failed. Out of memory."
    )
    assert failure_message(TARGET, run("Failed", details="see log")) == (
        "CData Sync job 'Nightly' run 7 failed. see log."
    )


def test_cancelled_run() -> None:
    assert (
        failure_message(TARGET, run("Cancelled", id=None))
        == "CData Sync job 'Nightly' run (no id) was cancelled."
    )


@pytest.mark.parametrize("status", ["Frobnicating", "", None])
def test_unknown_status_is_never_success(status: str | None) -> None:
    message = failure_message(TARGET, run(status, task("orders", "Success")), fail_on_warnings=False)
    assert message is not None and "unknown status" in message and "not treated as success" in message


@pytest.mark.parametrize("task_status", ["Failed", "Cancelled"])
@pytest.mark.parametrize("run_status", ["Success", "Warning"])
def test_a_good_run_status_with_a_failed_task_still_fails(run_status: str, task_status: str) -> None:
    message = failure_message(
        TARGET, run(run_status, task("a", "Success"), task("orders", task_status, "boom"))
    )
    assert (
        message == f"CData Sync job 'Nightly' run 7 ended {run_status.lower()}. failed tasks: [orders] boom."
    )


def test_a_run_still_going_is_not_success() -> None:
    assert failure_message(TARGET, run("Running")) is not None


# ------------------------------------------------------------------------------- summary and table
def test_run_summary_is_json_safe_and_adds_up_task_records() -> None:
    summary = run_summary(
        TARGET,
        run("Failed", task("a", "Success", records=5), task("b", "Failed", "boom", records=None), error="x"),
        "http://c",
    )

    assert json.loads(json.dumps(summary)) == summary
    assert summary["records_affected"] == 5 and summary["error"] == "x" and summary["status"] == "failed"
    assert summary["tasks"][1] == {
        "task_id": "t-b",
        "table": "b",
        "status": "failed",
        "records_affected": None,
        "start_time": T0.isoformat(),
        "end_time": (T0 + timedelta(seconds=1.5)).isoformat(),
        "duration_seconds": 1.5,
        "error": "boom",
    }


def test_task_table_columns_line_up() -> None:
    table = task_table(
        run(
            "Failed",
            task("customers_with_a_long_name", "Success", records=123456),
            task("x", "Failed", "no such table: x", records=None),
            task("mid_table", "Skipped", records=0),
        )
    )

    assert table[0] == "task                        status   records  duration  error"
    assert table[1] == "customers_with_a_long_name  success  123456   1.5s"
    assert table[2] == "x                           failed            1.5s      no such table: x"
    assert table[3] == "mid_table                   skipped  0        1.5s"
    for column in ("status", "records", "duration", "error"):
        start = table[0].index(column)
        for row in table[1:]:
            assert row[start - 2 : start] == "  " or len(row) < start


def test_task_table_cuts_long_errors() -> None:
    row = task_table(run("Failed", task("x", "Failed", "e" * 500)))[1]
    assert row.endswith("e" * 200) and "e" * 201 not in row


# ------------------------------------------------------------------------------- LogPrinter.final
def test_final_keeps_the_tail_within_max_lines_and_says_what_was_cut() -> None:
    shown = LogPrinter(max_lines=10, max_bytes=10_000).final(RunLog(lines(100)))

    assert shown[1:] == lines(100).splitlines()[-10:]
    assert "90 line(s)" in shown[0] and "only the last 10 line(s)" in shown[0]
    assert "log_max_lines=10" in shown[0]


def test_final_keeps_the_tail_within_max_bytes() -> None:
    shown = LogPrinter(max_lines=1000, max_bytes=45).final(RunLog(lines(20)))  # 9 bytes a line

    assert shown[1:] == lines(20).splitlines()[-5:]
    assert sum(len(line) + 1 for line in shown[1:]) <= 45
    assert "15 line(s)" in shown[0] and "log_max_bytes=45" in shown[0]


def test_final_without_cut_has_no_notice() -> None:
    assert LogPrinter(max_lines=10).final(RunLog("a\nb\n")) == ["a", "b"]


def test_final_of_a_tail_only_download_says_the_start_was_not_downloaded() -> None:
    shown = LogPrinter().final(RunLog(lines(3), truncated_bytes=5000))

    assert "5000 earlier byte(s) not downloaded" in shown[0]
    assert shown[1:] == lines(3).splitlines()


# ------------------------------------------------------------------------------- LogPrinter.stream
def test_stream_prints_only_new_complete_lines() -> None:
    printer = LogPrinter(max_lines=100)

    assert printer.stream(RunLog("a\nb\nhal")) == ["a", "b"]  # "hal" is not finished yet
    assert printer.stream(RunLog("a\nb\nhalf\nc\n")) == ["half", "c"]
    assert printer.stream(RunLog("a\nb\nhalf\nc\n")) == []
    assert printer.final(RunLog("a\nb\nhalf\nc\nend\n")) == ["end"]


def test_stream_uses_at_most_half_the_line_budget_and_final_the_rest() -> None:
    printer = LogPrinter(max_lines=10, max_bytes=10_000)
    log = lines(30)

    streamed = printer.stream(RunLog(log))
    assert streamed == log.splitlines()[:5]
    assert printer.stream(RunLog(log + lines(5))) == []  # streaming is over

    shown = printer.final(RunLog(log))
    assert shown[1:] == log.splitlines()[-5:]
    assert "20 line(s)" in shown[0]


def test_stream_uses_at_most_half_the_byte_budget() -> None:
    printer = LogPrinter(max_lines=1000, max_bytes=100)  # 9 bytes a line: 5 lines fit in 50

    streamed = printer.stream(RunLog(lines(30)))

    assert streamed == lines(30).splitlines()[:5]
    assert printer.printed_bytes <= 50
    rest = printer.final(RunLog(lines(30)))
    assert rest[1:] == lines(30).splitlines()[-6:]  # the remaining 55 bytes: 6 lines
    assert printer.printed_bytes == 45 + 54 <= 100


def test_stream_of_tail_only_downloads_prints_each_line_once() -> None:
    full = lines(200, width=9)  # 10 bytes a line
    printer = LogPrinter(max_lines=1000, max_bytes=1_000_000)

    first = printer.stream(RunLog(full[-500:], truncated_bytes=len(full) - 500))
    assert first == full.splitlines()[-50:]

    grown = full + lines(210, width=9)[len(full) :]  # ten more lines; the download keeps the last 500 bytes
    second = printer.stream(RunLog(grown[-500:], truncated_bytes=len(grown) - 500))
    assert second == grown.splitlines()[-10:]

    assert printer.final(RunLog(grown[-500:], truncated_bytes=len(grown) - 500)) == []


# ------------------------------------------------------------------------------- grouped
def test_grouped_wraps_lines_in_markers_and_nothing_when_empty() -> None:
    assert list(grouped(["a", "b"])) == [LOG_GROUP_START, "a", "b", LOG_GROUP_END]
    assert list(grouped([])) == []
