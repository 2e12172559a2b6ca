"""Alerts through Apprise (NOTIFY_URLS) to a real local HTTP receiver.

The receiver (tests/support/notify_receiver.py) is a real HTTP server on 127.0.0.1;
Apprise posts to it with `json://`. The pipeline runs as a subprocess, as
`make run` starts it: in demo mode, or against the real influxd the tests
start. The URL carries a recognisable password and token (assembled at run
time, so the literal never sits in the tree) that must appear in no output,
log or warehouse file.

The demo house has one planted leak: og1_wasser_kalt on the 8 days
2025-03-09 to 2025-03-16 (8 anomalies), one counter reset (solarspeicher) and
two months of negative virtual consumption (eg_kalfire 2025-08 and 2026-06):
11 events to announce, one message each.
"""

from __future__ import annotations

import json
import socket
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from core.errors import ConfigError, LandingError
from core.notify_urls import mask, secret_parts, split_urls
from core.settings import Settings, load_settings
from pipeline import alerts
from pipeline.run import RunSummary
from tests.support.fixtures_demo import ROOT, demo_environment, pipeline_command
from tests.support.fixtures_pipeline import Baseline, House, ha_line
from tests.support.notify_receiver import Message, NotifyReceiver

PASSWORD = "-".join(["notify", "SECRET", "5d1e"])
TOKEN = "-".join(["hook", "TOKEN", "8b4f"])
URL_SECRETS = (PASSWORD, TOKEN)
LEAK_DAYS = [str(date(2025, 3, 9) + timedelta(days=n)) for n in range(8)]
FINDING_TITLES = [
    "utility-meters: counter reset of solarspeicher (2023-08-01 13:02)",
    "utility-meters: negative virtual consumption of eg_kalfire (2025-08)",
    "utility-meters: negative virtual consumption of eg_kalfire (2026-06)",
]
FAILED = "utility-meters: a run failed"
RECOVERED = "utility-meters: runs succeed again"


def secret_url(receiver: NotifyReceiver) -> str:
    return receiver.url(f"meterbot:{PASSWORD}", f"/hook/{TOKEN}")


def run(
    data_dir: Path, notify_urls: str, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = demo_environment(data_dir)
    environment.update({"NOTIFY_URLS": notify_urls, **env})
    return subprocess.run(
        pipeline_command("run"),
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def unreachable_influx() -> dict[str, str]:
    """Settings that make the extract fail: InfluxDB 1.x on a closed port."""
    return {
        "INFLUX_URL": f"http://127.0.0.1:{closed_port()}",
        "INFLUX_API_VERSION": "1",
    }


def titles(messages: list[Message]) -> list[str]:
    return [message.title for message in messages]


def demo_titles() -> list[str]:
    """The 11 demo events, in the order they happened."""
    leak = [
        f"utility-meters: og1_wasser_kalt used more than usual on {day}"
        for day in LEAK_DAYS
    ]
    return leak + FINDING_TITLES


def assert_no_secret(data_dir: Path, *results: subprocess.CompletedProcess) -> None:
    for result in results:
        for secret in URL_SECRETS:
            assert secret not in result.stdout + result.stderr
    for path in data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in URL_SECRETS:
                assert secret.encode() not in data, f"{secret} in {path}"


# -- URLs: split, masked, their secrets known to the log filter --


def test_urls_are_split_at_commas_only_where_a_new_url_starts() -> None:
    text = "mailtos://u:pw@mail.example.org?to=a@x.org,b@y.org, ntfy://ntfy.sh/t1,json://h/x"
    assert split_urls(text) == [
        "mailtos://u:pw@mail.example.org?to=a@x.org,b@y.org",
        "ntfy://ntfy.sh/t1",
        "json://h/x",
    ]
    assert split_urls("") == []
    assert split_urls(None) == []


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("json://user:pw@127.0.0.1:8080/hook/abc", "json://***@127.0.0.1:8080/***"),
        ("tgram://123456:AAHbottoken/987654", "tgram://***/***"),
        ("ntfys://ntfy.sh/my-topic?token=tk_abc", "ntfys://ntfy.sh/***"),
        (
            "mailtos://me:pw@mail.example.org?to=a@x.org",
            "mailtos://***@mail.example.org/***",
        ),
        ("hassio://ha.local/longlivedtoken", "hassio://ha.local/***"),
        ("pover://userkey@apptoken", "pover://***@***"),
        ("json://localhost", "json://localhost"),
        ("not a url", "***"),
    ],
)
def test_a_url_is_shown_with_scheme_and_host_only(url: str, shown: str) -> None:
    assert mask(url) == shown


def test_every_masked_part_of_a_url_is_a_secret_for_the_logs(tmp_path: Path) -> None:
    url = f"json://meterbot:{PASSWORD}@127.0.0.1:8080/hook/{TOKEN}?key=qu%2Fery1"
    parts = secret_parts(url)
    for part in (PASSWORD, TOKEN, "qu%2Fery1", "qu/ery1", url):
        assert part in parts
    assert "127.0.0.1:8080" not in parts
    settings = load_settings(tmp_path, {"NOTIFY_URLS": url})
    assert {PASSWORD, TOKEN} <= set(settings.secrets())


def test_a_url_apprise_cannot_use_stops_the_run_without_showing_it(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        tmp_path,
        {
            "NOTIFY_URLS": f"json://127.0.0.1/ok, nosuch://x:{PASSWORD}@host.example.org/"
        },
    )
    with pytest.raises(ConfigError) as error:
        alerts.targets(settings)
    assert str(error.value) == (
        "NOTIFY_URLS entry 2 (nosuch://***@host.example.org) is not a URL Apprise can "
        "send to: check its scheme and form in Apprise's URL list"
    )


def test_alerts_that_cannot_be_recorded_never_change_a_runs_outcome(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The warehouse is a directory DuckDB cannot open: a successful run stays
    successful, a failed run's own error passes through unchanged, and each
    says in one line that its alert could not be announced."""
    url = f"json://meterbot:{PASSWORD}@127.0.0.1:{closed_port()}/hook/{TOKEN}"
    settings = load_settings(tmp_path, {"DATA_DIR": "data", "NOTIFY_URLS": url})
    settings.warehouse.mkdir(parents=True)
    summary = RunSummary(as_of=datetime(2026, 11, 27, 10, tzinfo=UTC))
    with alerts.reporting(settings, summary):
        pass
    with (
        pytest.raises(LandingError, match=r"^broken$"),
        alerts.reporting(settings, summary),
    ):
        raise LandingError("broken")
    lines = capsys.readouterr().out.splitlines()
    warnings = [line for line in lines if line.startswith("warning: ")]
    assert [w.split(" (")[0] for w in warnings] == [
        "warning: alerts not sent",
        "warning: the failure was not announced",
    ]
    assert warnings[0].endswith("); the next run tries again")
    assert not any(secret in line for line in lines for secret in URL_SECRETS)


def test_a_refused_failure_is_sent_before_the_recovery_and_each_only_once(
    tmp_path: Path,
) -> None:
    """In process, on an empty warehouse (no marts: only run events). A run
    fails while the receiver answers 500; the next run succeeds: the failure,
    then the recovery. Two more failures: one message; then one recovery."""
    summary = RunSummary(as_of=datetime(2026, 11, 27, 10, tzinfo=UTC))

    def failing_run(settings: Settings) -> None:
        with pytest.raises(LandingError), alerts.reporting(settings, summary):
            raise LandingError("landing/readings/x.parquet is corrupt: move it away")

    with NotifyReceiver(status=500) as receiver:
        settings = load_settings(
            tmp_path, {"DATA_DIR": "data", "NOTIFY_URLS": secret_url(receiver)}
        )
        failing_run(settings)
        assert receiver.refused == 1
        receiver.status = 200
        with alerts.reporting(settings, summary):
            pass
        first = receiver.take()
        assert titles(first) == [FAILED, RECOVERED]
        assert first[0].message == (
            "The run as of 2026-11-27T10:00:00+00:00 failed: error [landing]: "
            "landing/readings/x.parquet is corrupt: move it away. You are told "
            "once when runs succeed again."
        )
        with alerts.reporting(settings, summary):
            pass
        failing_run(settings)
        failing_run(settings)
        assert titles(receiver.take()) == [FAILED]
        with alerts.reporting(settings, summary):
            pass
        assert titles(receiver.take()) == [RECOVERED]


# -- the messages, from hand-made marts --


def test_messages_name_meter_period_consumption_expected_and_unit(
    tmp_path: Path,
) -> None:
    """An anomaly of 0.9 m³ against 0.15 m³ expected: 0.9 / 0.15 = 6.0 times.
    A counter reset at 2023-08-01 11:02 UTC is 13:02 in Berlin (CEST, +2 h).
    A negative month stamped 2025-07-31 22:00 UTC is August 2025 in Berlin.
    A bad reading and a negative virtual day are not announced."""
    db = duckdb.connect(str(tmp_path / "w.duckdb"))
    db.execute("""
        create schema house;
        create table house.meters as
            select * from (values ('wasser', 'm³'), ('pv', 'kWh'), ('kamin', 'm³'))
            as meters (meter_id, unit);
        create table main.meter_anomalies as select
            'wasser' as meter_id, 'm³' as unit, date '2025-03-11' as day,
            timestamptz '2025-03-10 23:00:00+00' as day_start_at,
            0.9 as consumption, 0.15 as expected;
        create table main.data_quality_findings as
            select * from (values
                ('pv', 'counter_reset', timestamptz '2023-08-01 11:02:00+00', 201.7),
                ('pv', 'bad_reading', timestamptz '2023-09-01 10:00:00+00', 1.0),
                ('kamin', 'negative_virtual_month',
                    timestamptz '2025-07-31 22:00:00+00', -17.0881),
                ('kamin', 'negative_virtual_day',
                    timestamptz '2025-08-03 22:00:00+00', -0.5)
            ) as findings (meter_id, finding_type, found_at, value);
    """)
    events = alerts.mart_events(db, "Europe/Berlin")
    assert [(e.key, e.title, e.body) for e in events] == [
        (
            "anomaly_day/wasser/2025-03-11",
            "utility-meters: wasser used more than usual on 2025-03-11",
            "wasser used 0.900 m³ on 2025-03-11, expected 0.150 m³ (6.0 times "
            "as much). Look for a leak, a device left on or a wrong reading.",
        ),
        (
            "finding/counter_reset/pv/2023-08-01T11:02:00Z",
            "utility-meters: counter reset of pv (2023-08-01 13:02)",
            "pv: the reading of 2023-08-01 13:02, 201.700 kWh, is below the "
            "reading before, so it counts as a counter restarted from 0. If the "
            "meter was replaced or the reading is a typo, correct the reading "
            "or the house's seeds.",
        ),
        (
            "finding/negative_virtual_month/kamin/2025-07-31T22:00:00Z",
            "utility-meters: negative virtual consumption of kamin (2025-08)",
            "kamin: the virtual consumption of 2025-08 is -17.088 m³: the meters "
            "it subtracts used more than its base meter. Check their readings "
            "and seeds/virtual_meter_components.csv.",
        ),
    ]


# -- end to end, demo mode --


def test_each_demo_event_reaches_the_receiver_once_even_after_a_refusal(
    demo_data_dir: Path,
) -> None:
    """Run 1: the receiver answers 500: Apprise reports the failure, nothing
    counts as sent, the run still succeeds and says so. Run 2: the receiver
    accepts: the 11 events arrive, one message each. Run 3: nothing new."""
    with NotifyReceiver(status=500) as receiver:
        url = secret_url(receiver)
        first = run(demo_data_dir, url)
        assert first.returncode == 0, first.stdout + first.stderr
        assert receiver.refused == 1  # the first refusal stops the sending
        assert receiver.take() == []
        shown = f"json://***@127.0.0.1:{receiver.port}/***"
        assert (
            f"alerts: 0 sent, 11 not confirmed by {shown}: sent again on the next run"
            in first.stdout
        )

        receiver.status = 200
        second = run(demo_data_dir, url)
        assert second.returncode == 0, second.stdout + second.stderr
        delivered = receiver.take()
        assert titles(delivered) == demo_titles()
        assert all(m.credentials == f"meterbot:{PASSWORD}" for m in delivered)
        assert all(m.path == f"/hook/{TOKEN}" for m in delivered)
        assert "alerts: 11 sent" in second.stdout

        third = run(demo_data_dir, url)
        assert third.returncode == 0, third.stdout + third.stderr
        assert receiver.take() == []
        assert "alerts: 0 sent" in third.stdout

    leak = delivered[:8]
    assert all(" m³ on 2025-03-" in m.message for m in leak)
    assert all("og1_wasser_kalt used " in m.message for m in leak)
    with duckdb.connect(str(demo_data_dir / "warehouse.duckdb")) as db:
        sent = db.execute(
            "select kind, count(*) from run_state.sent_alerts group by 1 order by 1"
        ).fetchall()
    assert sent == [
        ("anomaly_day", 8),
        ("counter_reset", 1),
        ("negative_virtual_month", 2),
    ]
    assert_no_secret(demo_data_dir, first, second, third)


def test_a_failed_run_is_announced_once_and_the_recovery_once(
    demo_data_dir: Path,
) -> None:
    """Runs 1 and 2 fail (INFLUX_URL set on the demo's DATA_DIR: the run
    refuses to mix the sources): one message, at the first. Run 3 succeeds:
    one message that runs succeed again, then the events published by it."""
    with NotifyReceiver() as receiver:
        url = secret_url(receiver)
        broken = unreachable_influx()
        first = run(demo_data_dir, url, **broken)
        assert first.returncode == 1
        error_line = first.stderr.splitlines()[-1]
        assert error_line.startswith("error [source]: DATA_DIR ")
        failed = receiver.take()
        assert titles(failed) == [FAILED]
        assert failed[0].type == "failure"
        assert "failed: error [source]: DATA_DIR " in failed[0].message

        second = run(demo_data_dir, url, **broken)
        assert second.returncode == 1
        assert receiver.take() == []

        third = run(demo_data_dir, url)
        assert third.returncode == 0, third.stdout + third.stderr
        recovered = receiver.take()
        assert titles(recovered) == [RECOVERED, *demo_titles()]
        assert recovered[0].type == "success"
    assert_no_secret(demo_data_dir, first, second, third)


def test_without_notify_urls_a_run_is_neither_announced_nor_recorded(
    tmp_path: Path,
) -> None:
    """No URL: the run's outcome passes through, the warehouse is not touched."""
    settings = load_settings(tmp_path, {"DATA_DIR": "data", "NOTIFY_URLS": ""})
    summary = RunSummary(as_of=datetime(2026, 11, 27, 10, tzinfo=UTC))
    with alerts.reporting(settings, summary):
        pass
    with pytest.raises(LandingError), alerts.reporting(settings, summary):
        raise LandingError("broken")
    assert not settings.warehouse.exists()
    assert "alerts" not in summary.stage_seconds


# -- end to end, against the real influxd --


def test_an_unknown_entity_is_announced_once_after_the_load(
    house: House, baseline: Baseline
) -> None:
    """An input_number entity the seeds do not know, in the raw bucket: one
    message, sent after the load; the next run sends nothing."""
    house.use_copy_of(baseline.data_dir)
    reading = house.history.readings[-1]
    house.write([ha_line("m³", "keller_wasser", 12.5, reading[2])])
    with NotifyReceiver() as receiver:
        house.extra_env["NOTIFY_URLS"] = secret_url(receiver)
        first = house.run()
        assert first.returncode == 0, first.stdout + first.stderr
        assert first.stdout.index("[load]") < first.stdout.index("[alerts]")
        unknown = [
            m for m in receiver.take() if m.title.startswith("utility-meters: unknown")
        ]
        assert [m.title for m in unknown] == [
            "utility-meters: unknown meter keller_wasser"
        ]
        assert "input_number.keller_wasser" in unknown[0].message
        second = house.run()
        assert second.returncode == 0, second.stdout + second.stderr
        assert receiver.take() == []
    assert_no_secret(house.data_dir, first, second)
    log = (house.data_dir / "logs" / "pipeline.jsonl").read_text()
    assert json.loads(log.splitlines()[-1])  # the log is JSON lines
