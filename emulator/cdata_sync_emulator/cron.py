"""A minimal 5-field cron matcher (``*``, ``*/n``, lists, ranges, ``a-b/n``) for scheduled runs."""

from __future__ import annotations

from datetime import datetime

_FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


class CronError(ValueError):
    """An invalid cron expression."""


def _expand(part: str, low: int, high: int) -> set[int]:
    values: set[int] = set()
    for item in part.split(","):
        step = 1
        if "/" in item:
            item, step_text = item.split("/", 1)
            step = int(step_text)
            if step < 1:
                raise CronError(f"bad step in {part!r}")
        if item in ("*", ""):
            start, end = low, high
        elif "-" in item:
            start_text, end_text = item.split("-", 1)
            start, end = int(start_text), int(end_text)
        else:
            start = int(item)
            end = high if step > 1 else start
        if start < low or end > high or start > end:
            raise CronError(f"value out of range in {part!r}")
        values.update(range(start, end + 1, step))
    return values


def parse_cron(expression: str) -> list[set[int]]:
    """Parse a 5-field expression into the sets of allowed values; raises :class:`CronError`."""
    parts = expression.split()
    if len(parts) != 5:
        raise CronError(f"expected 5 fields, got {len(parts)}: {expression!r}")
    try:
        sets = [_expand(p, lo, hi) for p, (lo, hi) in zip(parts, _FIELDS, strict=True)]
    except ValueError as exc:
        raise CronError(f"invalid cron expression {expression!r}: {exc}") from exc
    if 7 in sets[4]:
        sets[4].add(0)  # both 0 and 7 mean Sunday
    return sets


def cron_matches(expression: str, moment: datetime) -> bool:
    """Whether ``moment`` (minute precision) matches the expression (standard dom/dow OR rule)."""
    minute, hour, dom, month, dow = parse_cron(expression)
    weekday = (moment.weekday() + 1) % 7  # cron: Sunday = 0
    parts = expression.split()
    day_ok = moment.day in dom and weekday in dow
    if parts[2] != "*" and parts[4] != "*":
        day_ok = moment.day in dom or weekday in dow
    return moment.minute in minute and moment.hour in hour and moment.month in month and day_ok
