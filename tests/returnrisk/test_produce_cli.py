"""`returnrisk produce` through the typer app: messages, summary and exit codes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from devstack.endpoints import Endpoint
from devstack.topics import count_records
from streams.settings import KafkaSettings, TopicSettings
from tests.fixtures.events import EventFactory, write_jsonl
from tests.fixtures.infra import free_port, topic_env

pytestmark = pytest.mark.integration


@pytest.fixture
def produce(
    cli_app: typer.Typer,
    settings_env: Callable[[dict[str, str]], None],
    broker_endpoint: Endpoint,
    fresh_topics: TopicSettings,
) -> Callable[..., Result]:
    settings_env(
        {"RETURNRISK_KAFKA_BOOTSTRAP_SERVERS": str(broker_endpoint), **topic_env(fresh_topics)}
    )

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli_app, ["produce", *args])

    return run


@pytest.fixture
def mixed_log(tmp_path: Path, event_factory: EventFactory) -> Path:
    """Lines 2, 4, 6 and 8 are malformed; lines 1, 3, 5, 7 and 9 are valid."""
    order = event_factory.order()
    bad_price = event_factory.order(lines=[{**order["lines"][0], "unit_price": "-5"}])
    no_order_id = {k: v for k, v in event_factory.order().items() if k != "order_id"}
    return write_jsonl(
        tmp_path / "mixed.jsonl",
        [
            order,
            b'{"event_type": "order_placed", "customer_id": "c-1"',  # bad JSON
            event_factory.return_requested(),
            no_order_id,
            event_factory.campaign_touch(),
            bad_price,
            event_factory.customer_updated(),
            event_factory.order(channel="fax"),  # unknown enum value
            event_factory.return_received(),
        ],
    )


def _messages(result: Result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("line ")]


def test_a_log_with_malformed_lines_is_refused_and_nothing_sent(
    produce: Callable[..., Result],
    mixed_log: Path,
    kafka_settings: KafkaSettings,
    fresh_topics: TopicSettings,
) -> None:
    result = produce("--events", str(mixed_log))

    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [
        f"error: {mixed_log}: 4 of 9 lines are not valid events, nothing was sent; "
        f"run returnrisk validate --events {mixed_log} for the list"
    ]
    assert not any(count_records(kafka_settings, fresh_topics.inputs).values())


def test_include_invalid_reports_each_malformed_line_as_it_sends_it(
    produce: Callable[..., Result], mixed_log: Path
) -> None:
    result = produce("--events", str(mixed_log), "--include-invalid")

    assert result.exit_code == 0, result.output
    messages = _messages(result)
    assert len(messages) == 4
    assert messages[0].startswith("line 2: field '(json)': Invalid JSON: EOF while parsing")
    assert messages[1:] == [
        "line 4: field 'order_id': required field is missing",
        "line 6: field 'lines.0.unit_price': Input should be greater than or equal to 0",
        "line 8: field 'channel': Input should be 'web', 'app', 'store' or 'marketplace'",
    ]
    assert "Traceback" not in result.output


def test_a_clean_log_exits_0_with_counts_per_topic(
    produce: Callable[..., Result],
    tmp_path: Path,
    event_factory: EventFactory,
    fresh_topics: TopicSettings,
) -> None:
    log = write_jsonl(tmp_path / "clean.jsonl", event_factory.mixed(10))

    result = produce("--events", str(log), "--rate", "0")

    assert result.exit_code == 0, result.output
    assert not _messages(result)
    summary = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in result.output.splitlines()
        if line.count("│") == 4
    }
    assert summary[fresh_topics.returns] == "4" and summary["total"] == "10"
    assert "malformed lines: 0" in result.output


def test_include_invalid_sends_them_and_exits_0(
    produce: Callable[..., Result], mixed_log: Path
) -> None:
    result = produce("--events", str(mixed_log), "--include-invalid")

    assert result.exit_code == 0, result.output
    assert len(_messages(result)) == 4
    assert "malformed lines: 4 (sent as invalid)" in result.output


def test_a_missing_file_is_a_usage_error_not_a_traceback(
    produce: Callable[..., Result], tmp_path: Path
) -> None:
    result = produce("--events", str(tmp_path / "nope.jsonl"))

    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_an_unreachable_broker_is_one_line_and_exit_1(
    produce: Callable[..., Result],
    settings_env: Callable[[dict[str, str]], None],
    tmp_path: Path,
    event_factory: EventFactory,
) -> None:
    settings_env({"RETURNRISK_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"})
    log = write_jsonl(tmp_path / "clean.jsonl", event_factory.mixed(3))

    result = produce("--events", str(log))

    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: cannot reach Kafka at 127.0.0.1:")
