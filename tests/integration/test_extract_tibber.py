"""The Tibber extract against a real local HTTP GraphQL server.

The server (tests/support/tibber_server.py) pages like Tibber: at most 744 nodes a
request, base64 ISO cursors, times in Europe/Berlin with their offset.
Expected counts are worked out in each test's comments.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from core import landing
from core.errors import TibberError
from core.settings import Settings, load_settings
from extract.tibber import (
    NO_TOKEN,
    TOKEN_REFUSED,
    HoursExtract,
    TibberPolicy,
    extract_hours,
)
from tests.support.tibber_server import (
    Hour,
    TibberServer,
    cursor,
    hourly_series,
    render,
)

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = timedelta(hours=1)
START = datetime(2024, 1, 1, tzinfo=UTC)


class Sleeps(list[float]):
    """Records the backoff delays instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def policy(sleeps: Sleeps) -> TibberPolicy:
    return TibberPolicy(
        timeout_s=5.0,
        attempts=4,
        base_delay_s=0.01,
        max_delay_s=1.0,
        sleep=sleeps,
    )


def settings_for(server: TibberServer, tmp_path: Path, **extra: str) -> Settings:
    environ = {
        "TIBBER_API_TOKEN": server.token,
        "TIBBER_API_URL": server.url,
        "DATA_DIR": str(tmp_path / "data"),
        **extra,
    }
    return load_settings(tmp_path, environ)


def run(
    settings: Settings, policy: TibberPolicy, now: datetime, **kwargs: bool
) -> HoursExtract:
    return extract_hours(settings, now=now, policy=policy, **kwargs)


def stored(settings: Settings) -> dict[tuple[str, datetime], dict]:
    table = landing.current(settings.data_dir, "tibber_hours")
    return {(r["home_id"], r["hour_start_at"]): r for r in table.to_pylist()}


def data_files(settings: Settings) -> list[Path]:
    folder = landing.table_dir(settings.data_dir, "tibber_hours")
    return sorted(p for p in folder.glob("*.parquet") if p.name != landing.SCHEMA_FILE)


def one_line(error: pytest.ExceptionInfo[TibberError]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


@pytest.fixture
def landed_2000(
    tibber_server: TibberServer, tmp_path: Path, policy: TibberPolicy
) -> Settings:
    """home-a's 2000 hourly hours from START, landed by a first run at hour
    2000; the settings of that run."""
    tibber_server.homes["home-a"] = hourly_series(START, 2000)
    settings = settings_for(tibber_server, tmp_path)
    run(settings, policy, now=START + 2000 * HOUR)
    return settings


# --- paging -------------------------------------------------------------


def test_first_run_reads_whole_history_backwards_in_pages_of_744(
    tibber_server: TibberServer, tmp_path: Path, policy: TibberPolicy
) -> None:
    # 2000 hours = 744 (hours 1256..1999) + 744 (512..1255) + 512 (0..511).
    tibber_server.homes["home-a"] = hourly_series(START, 2000)
    settings = settings_for(tibber_server, tmp_path)

    result = run(settings, policy, now=START + 2000 * HOUR)

    assert (result.requests, result.hours_read, result.rows_written) == (3, 2000, 2000)
    assert result.homes == ["home-a"] and result.skipped_reason is None
    befores = [r.variables.get("before") for r in tibber_server.log]
    assert befores == [None, cursor(START + 1256 * HOUR), cursor(START + 512 * HOUR)]
    assert all(r.variables["last"] == 744 for r in tibber_server.log)
    rows = stored(settings)
    assert len(rows) == 2000
    assert min(k[1] for k in rows) == START
    assert max(k[1] for k in rows) == START + 1999 * HOUR
    # Hour 1999: 0.1 + (1999 % 24) / 100 = 0.1 + 7 / 100 = 0.17 kWh at 0.30.
    last = rows[("home-a", START + 1999 * HOUR)]
    assert last["consumption"] == pytest.approx(0.17)
    assert last["cost"] == pytest.approx(0.051)
    assert last["unit_price_vat"] == pytest.approx(0.30)
    assert last["unit_price"] == pytest.approx(0.30 / 1.19)
    assert last["currency"] == "EUR"
    assert last["hour_end_at"] == START + 2000 * HOUR


def test_later_run_rereads_30_days_and_not_older_hours(
    tibber_server: TibberServer, landed_2000: Settings, policy: TibberPolicy
) -> None:
    settings = landed_2000
    # Tibber revises an hour 1900 hours old: outside any 30-day re-read.
    tibber_server.homes["home-a"][100].consumption = 5.0
    tibber_server.log.clear()

    # now = hour 2000: stop at min(last stored 1999, 2000 - 720 = 1280) = 1280;
    # the newest page starts at hour 1256 <= 1280, so one request suffices.
    result = run(settings, policy, now=START + 2000 * HOUR)

    assert (result.requests, result.hours_read, result.rows_written) == (1, 744, 0)
    assert tibber_server.request_count == 1
    assert stored(settings)[("home-a", START + 100 * HOUR)]["consumption"] == 0.14


def test_later_run_after_a_long_pause_reads_back_to_the_last_stored_hour(
    tibber_server: TibberServer, tmp_path: Path, policy: TibberPolicy
) -> None:
    tibber_server.homes["home-a"] = hourly_series(START, 3000)
    settings = settings_for(tibber_server, tmp_path)
    # First run sees only hours 0..1999 (the newest 1000 are not there yet).
    full = tibber_server.homes["home-a"]
    tibber_server.homes["home-a"] = full[:2000]
    run(settings, policy, now=START + 2000 * HOUR)
    tibber_server.homes["home-a"] = full
    tibber_server.log.clear()

    # now = 3000: stop at min(1999, 3000 - 720 = 2280) = 1999. Pages: 2256..2999
    # (starts after 1999), then 1512..2255 (reaches 1999): 2 requests, 1488
    # hours read, the 1000 new hours 2000..2999 written.
    result = run(settings, policy, now=START + 3000 * HOUR)

    assert (result.requests, result.hours_read, result.rows_written) == (2, 1488, 1000)
    assert len(stored(settings)) == 3000


def test_full_refresh_reads_the_whole_history_again_but_writes_nothing_unchanged(
    tibber_server: TibberServer, landed_2000: Settings, policy: TibberPolicy
) -> None:
    settings = landed_2000

    result = run(settings, policy, now=START + 2000 * HOUR, full_refresh=True)

    assert (result.requests, result.hours_read, result.rows_written) == (3, 2000, 0)


# --- values -------------------------------------------------------------


def test_dst_days_keep_23_and_25_distinct_utc_hours(
    tibber_server: TibberServer, tmp_path: Path, policy: TibberPolicy
) -> None:
    # Local 2024-03-30 00:00 CET = 2024-03-29T23:00Z; Mar 30 (24 h) and Mar 31
    # (23 h, 02:00 is skipped) = 47 hours. Local 2024-10-26 00:00 CEST =
    # 2024-10-25T22:00Z; Oct 26 (24 h) and Oct 27 (25 h, 02:00 twice) = 49.
    spring = hourly_series(datetime(2024, 3, 29, 23, tzinfo=UTC), 47)
    autumn = hourly_series(datetime(2024, 10, 25, 22, tzinfo=UTC), 49)
    tibber_server.homes["home-a"] = spring + autumn
    settings = settings_for(tibber_server, tmp_path)

    result = run(settings, policy, now=datetime(2024, 11, 1, tzinfo=UTC))

    assert result.rows_written == 47 + 49
    rows = stored(settings)
    starts = sorted(start for _, start in rows)
    assert len(starts) == len(set(starts)) == 96
    per_day = Counter(start.astimezone(BERLIN).date().isoformat() for start in starts)
    assert per_day == {
        "2024-03-30": 24,
        "2024-03-31": 23,
        "2024-10-26": 24,
        "2024-10-27": 25,
    }
    # Both 02:00 local hours of 2024-10-27 are there, an hour apart in UTC.
    assert ("home-a", datetime(2024, 10, 27, 0, tzinfo=UTC)) in rows  # 02:00+02:00
    assert ("home-a", datetime(2024, 10, 27, 1, tzinfo=UTC)) in rows  # 02:00+01:00
    assert all(r["hour_end_at"] - r["hour_start_at"] == HOUR for r in rows.values())


def test_null_hour_stays_null(
    tibber_server: TibberServer, tmp_path: Path, policy: TibberPolicy
) -> None:
    tibber_server.homes["home-a"] = hourly_series(START, 48, nulls=frozenset({5}))
    settings = settings_for(tibber_server, tmp_path)

    run(settings, policy, now=START + 48 * HOUR)

    rows = stored(settings)
    missing = rows[("home-a", START + 5 * HOUR)]
    assert missing["consumption"] is None and missing["cost"] is None
    assert missing["unit_price_vat"] == pytest.approx(0.30)
    assert rows[("home-a", START + 6 * HOUR)]["consumption"] == pytest.approx(0.16)


def test_revised_hour_inside_30_days_replaces_stored_value_unchanged_write_nothing(
    tibber_server: TibberServer, landed_2000: Settings, policy: TibberPolicy
) -> None:
    settings = landed_2000
    revised: Hour = tibber_server.homes["home-a"][1990]
    revised.consumption, revised.cost = 2.5, 0.75
    tibber_server.homes["home-a"][1995].consumption = None  # Tibber lost an hour

    second = run(settings, policy, now=START + 2000 * HOUR)
    third = run(settings, policy, now=START + 2000 * HOUR)

    assert second.rows_written == 2 and third.rows_written == 0
    assert len(data_files(settings)) == 2  # first run, second run; third: none
    rows = stored(settings)
    assert len(rows) == 2000
    assert rows[("home-a", START + 1990 * HOUR)]["consumption"] == 2.5
    assert rows[("home-a", START + 1990 * HOUR)]["cost"] == 0.75
    assert rows[("home-a", START + 1995 * HOUR)]["consumption"] is None


def test_home_id_selects_one_home(
    tibber_server: TibberServer, tmp_path: Path, policy: TibberPolicy
) -> None:
    tibber_server.homes["home-a"] = hourly_series(START, 100)
    tibber_server.homes["home-b"] = hourly_series(START, 50)
    settings = settings_for(tibber_server, tmp_path, TIBBER_HOME_ID="home-b")

    result = run(settings, policy, now=START + 100 * HOUR)

    assert result.homes == ["home-b"] and result.rows_written == 50
    assert {home for home, _ in stored(settings)} == {"home-b"}
    assert [r.variables["id"] for r in tibber_server.log] == ["home-b"]


def test_every_home_is_read_when_no_home_id_is_set(
    tibber_server: TibberServer, tmp_path: Path, policy: TibberPolicy
) -> None:
    # One request carries both homes' newest pages; home-a (2000 hours) needs
    # two more pages, home-b (100 hours) none: 3 requests, 2100 rows.
    tibber_server.homes["home-a"] = hourly_series(START, 2000)
    tibber_server.homes["home-b"] = hourly_series(START, 100)
    settings = settings_for(tibber_server, tmp_path)

    result = run(settings, policy, now=START + 2000 * HOUR)

    assert sorted(result.homes) == ["home-a", "home-b"]
    assert (result.requests, result.rows_written) == (3, 2100)


def test_unknown_home_id_fails_with_tibbers_message(
    tibber_server: TibberServer, tmp_path: Path, policy: TibberPolicy
) -> None:
    tibber_server.homes["home-a"] = hourly_series(START, 10)
    settings = settings_for(tibber_server, tmp_path, TIBBER_HOME_ID="nope")

    with pytest.raises(TibberError) as error:
        run(settings, policy, now=START)

    assert "home with id nope not found" in one_line(error)


def test_request_over_744_nodes_fails_with_tibbers_message(
    tibber_server: TibberServer, tmp_path: Path, sleeps: Sleeps
) -> None:
    tibber_server.homes["home-a"] = hourly_series(START, 10)
    settings = settings_for(tibber_server, tmp_path)

    with pytest.raises(TibberError) as error:
        run(settings, TibberPolicy(page_size=745, sleep=sleeps), now=START)

    assert "at most 744" in one_line(error)
    assert tibber_server.request_count == 1


# --- skipping and empty -----------------------------------------------------


def test_no_token_skips_without_any_request(
    tibber_server: TibberServer, tmp_path: Path, policy: TibberPolicy
) -> None:
    tibber_server.homes["home-a"] = hourly_series(START, 10)
    settings = load_settings(tmp_path, {"TIBBER_API_URL": tibber_server.url})

    result = run(settings, policy, now=START)

    assert result.skipped_reason == NO_TOKEN
    assert NO_TOKEN == "TIBBER_API_TOKEN is not set: Tibber step skipped"
    assert (result.requests, result.rows_written) == (0, 0)
    assert tibber_server.request_count == 0


def test_empty_account_writes_nothing_and_says_so(
    tibber_server: TibberServer, tmp_path: Path, policy: TibberPolicy
) -> None:
    settings = settings_for(tibber_server, tmp_path)

    result = run(settings, policy, now=START)

    assert result.homes == [] and result.rows_written == 0
    assert result.requests == 1
    assert result.skipped_reason is not None and "no homes" in result.skipped_reason
    assert data_files(settings) == []


# --- errors -------------------------------------------------------------------


def test_refused_token_names_the_setting_and_never_shows_the_token(
    tibber_server: TibberServer,
    tmp_path: Path,
    policy: TibberPolicy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tibber_server.homes["home-a"] = hourly_series(START, 10)
    secret = "wrong-secret-token-8d2e71"
    settings = settings_for(tibber_server, tmp_path, TIBBER_API_TOKEN=secret)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(TibberError) as error:
        run(settings, policy, now=START)

    assert one_line(error) == "Tibber refused the token: check TIBBER_API_TOKEN"
    assert str(error.value) == TOKEN_REFUSED
    assert secret not in caplog.text and secret not in repr(error.value)
    assert tibber_server.request_count == 1  # not retried
    assert tibber_server.log[0].authorized is False


@pytest.mark.parametrize(
    ("answer", "times", "timeout_s", "requests_made", "parts"),
    [
        # 401: the token is wrong; not retried
        ("401", 1, 5.0, 1, [TOKEN_REFUSED]),
        # a body that is not JSON: not retried, and none of it in the message
        ("garbage", 1, 5.0, 1, ["not GraphQL JSON"]),
        # no answer within 0.3 s, twice: both of the 2 attempts spent
        ("hang", 2, 0.3, 2, ["failed 2 times", "no answer within 0.3 s"]),
    ],
)
def test_a_failed_request_fails_in_one_line_and_writes_nothing(
    tibber_server: TibberServer,
    tmp_path: Path,
    sleeps: Sleeps,
    answer: str,
    times: int,
    timeout_s: float,
    requests_made: int,
    parts: list[str],
) -> None:
    tibber_server.homes["home-a"] = hourly_series(START, 10)
    tibber_server.fail_next(answer, times)
    settings = settings_for(tibber_server, tmp_path)
    policy = TibberPolicy(
        timeout_s=timeout_s, attempts=2, base_delay_s=0.01, sleep=sleeps
    )

    with pytest.raises(TibberError) as error:
        run(settings, policy, now=START)

    message = one_line(error)
    assert [part for part in parts if part not in message] == []
    assert "<html>" not in message
    assert tibber_server.request_count == requests_made
    assert data_files(settings) == []


@pytest.mark.parametrize(
    ("failures", "timeout_s", "delays"),
    [
        # base 0.01 s: retry 1 waits in [0.005, 0.01], retry 2 in [0.01, 0.02]
        (["429", "500"], 5.0, [(0.005, 0.01), (0.01, 0.02)]),
        # no answer within 0.3 s: a timeout is retried like a 5xx
        (["hang"], 0.3, [(0.005, 0.01)]),
    ],
)
def test_429_500_and_timeouts_are_retried_with_growing_delays_then_succeed(
    tibber_server: TibberServer,
    tmp_path: Path,
    sleeps: Sleeps,
    failures: list[str],
    timeout_s: float,
    delays: list[tuple[float, float]],
) -> None:
    tibber_server.homes["home-a"] = hourly_series(START, 10)
    for failure in failures:
        tibber_server.fail_next(failure)
    settings = settings_for(tibber_server, tmp_path)
    policy = TibberPolicy(
        timeout_s=timeout_s, attempts=4, base_delay_s=0.01, sleep=sleeps
    )

    result = run(settings, policy, now=START + 10 * HOUR)

    # one request per failure, then the one that is answered: 10 hours
    assert (result.requests, result.rows_written) == (len(failures) + 1, 10)
    assert [r.answer for r in tibber_server.log] == [*failures, "graphql"]
    assert len(sleeps) == len(delays)
    for slept, (shortest, longest) in zip(sleeps, delays, strict=True):
        assert shortest <= slept <= longest


def test_persistent_500_gives_up_after_bounded_tries_and_writes_nothing(
    tibber_server: TibberServer, tmp_path: Path, policy: TibberPolicy, sleeps: Sleeps
) -> None:
    tibber_server.homes["home-a"] = hourly_series(START, 2000)
    settings = settings_for(tibber_server, tmp_path)
    # The first page arrives, then page 2 fails every time.
    tibber_server.fail_next("500", 100, after=1)

    with pytest.raises(TibberError) as error:
        run(settings, policy, now=START + 2000 * HOUR)

    message = one_line(error)
    assert "failed 4 times" in message and "HTTP 500" in message
    assert tibber_server.request_count == 1 + 4  # attempts=4
    assert len(sleeps) == 3
    assert data_files(settings) == []


def test_failure_on_a_later_page_leaves_stored_hours_untouched(
    tibber_server: TibberServer, landed_2000: Settings, policy: TibberPolicy
) -> None:
    settings = landed_2000
    files_before = data_files(settings)
    tibber_server.homes["home-a"][1999].consumption = 9.0  # would be written
    tibber_server.fail_next("garbage", after=1)

    with pytest.raises(TibberError):
        run(settings, policy, now=START + 2000 * HOUR, full_refresh=True)

    assert data_files(settings) == files_before
    assert stored(settings)[("home-a", START + 1999 * HOUR)]["consumption"] == 0.17


def test_unreachable_server_fails_in_one_line_after_retries(
    tmp_path: Path, sleeps: Sleeps
) -> None:
    with TibberServer() as server:
        url = server.url  # a port that is free again once the server stops
    environ = {"TIBBER_API_TOKEN": "t0k3n-xyz", "TIBBER_API_URL": url}
    settings = load_settings(tmp_path, environ)
    policy = TibberPolicy(timeout_s=1.0, attempts=3, base_delay_s=0.01, sleep=sleeps)

    with pytest.raises(TibberError) as error:
        run(settings, policy, now=START)

    assert "failed 3 times" in one_line(error) and "connection failed" in str(
        error.value
    )
    assert "t0k3n-xyz" not in str(error.value)


# --- the server itself ---------------------------------------------------------


def test_server_renders_berlin_times_and_pages_forwards(
    tibber_server: TibberServer,
) -> None:
    assert render(datetime(2024, 10, 27, 1, tzinfo=UTC)) == (
        "2024-10-27T02:00:00.000+01:00"
    )
    tibber_server.homes["h"] = hourly_series(START, 5)
    query = """query($after: String) { viewer { homes { consumption(
        resolution: HOURLY, first: 2, after: $after) { nodes { from }
        pageInfo { hasNextPage hasPreviousPage endCursor count } } } } }"""
    headers = {"Authorization": f"Bearer {tibber_server.token}"}
    body = {"query": query, "variables": {"after": cursor(START)}}

    answer = requests.post(tibber_server.url, json=body, headers=headers, timeout=5)

    connection = answer.json()["data"]["viewer"]["homes"][0]["consumption"]
    # After hour 0, the first two are hours 1 and 2 (01:00Z = 02:00+01:00).
    assert [n["from"] for n in connection["nodes"]] == [
        "2024-01-01T02:00:00.000+01:00",
        "2024-01-01T03:00:00.000+01:00",
    ]
    assert connection["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": True,
        "endCursor": cursor(START + 2 * HOUR),
        "count": 2,
    }


def test_hours_tibber_stops_reporting_in_the_reread_window_get_tombstones(
    tibber_server: TibberServer, landed_2000: Settings, policy: TibberPolicy
) -> None:
    """2000 hours landed. Tibber then drops hour 1990 (inside the 30 days
    re-read) and its newest hour 1999; the second run re-reads one page of
    744 hours (1254..1998 without 1990: 745 - 1), which reaches back past
    now - 30 days = hour 1280, and
    gives both dropped hours a tombstone: 1998 hours left. An hour outside
    the window (hour 5) dropped too is not seen: Tibber is not asked."""
    settings = landed_2000
    series = tibber_server.homes["home-a"]
    tibber_server.homes["home-a"] = [
        h for i, h in enumerate(series) if i not in (5, 1990, 1999)
    ]

    result = run(settings, policy, now=START + 2000 * HOUR)

    assert (result.hours_read, result.rows_written, result.rows_deleted) == (744, 0, 2)
    rows = stored(settings)
    assert len(rows) == 1998
    assert ("home-a", START + 1990 * HOUR) not in rows
    assert ("home-a", START + 1999 * HOUR) not in rows
    assert ("home-a", START + 5 * HOUR) in rows
