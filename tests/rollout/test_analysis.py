"""The live analysis over real Parquet segments in the gateway's record layout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from mlgate.rollout.analysis import analyse

from .support import CHALLENGER, CHAMPION, NAME, canary_traffic, label, prediction, write

NOW = datetime.now(UTC).replace(microsecond=0)
SINCE = NOW - timedelta(minutes=5)


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    return tmp_path / "logs"


def test_no_logs_yet_give_empty_figures(logs: Path) -> None:
    found = analyse(str(logs), NAME, SINCE)
    assert found.challenger.requests == found.champion.requests == 0
    assert found.challenger.error_rate == 0.0
    assert found.challenger.p99_latency_ms is None
    assert (found.compared_rows, found.agreement) == (0, None)
    assert found.challenger.accuracy is None


def test_requests_and_error_rates_per_version(logs: Path) -> None:
    # 100 requests, 40 to the challenger of which 4 failed (the champion answered those).
    write(logs, "predictions", canary_traffic(100, at=NOW, challenger_share=0.4, errors=4))
    found = analyse(str(logs), NAME, SINCE)
    challenger, champion = found.challenger, found.champion
    assert (challenger.version, champion.version) == (CHALLENGER, CHAMPION)
    assert (challenger.requests, challenger.errors) == (40, 4)
    assert challenger.error_rate == pytest.approx(0.1)
    assert (champion.requests, champion.errors, champion.error_rate) == (64, 0, 0.0)


def test_the_champions_failed_reference_answers_count_against_it(logs: Path) -> None:
    records = [prediction(f"c-{i}", "champion", CHAMPION, "0", at=NOW) for i in range(10)]
    for i in range(10):
        records.append(prediction(f"x-{i}", "challenger", CHALLENGER, "0", at=NOW))
        failed = "ValueError: no" if i < 2 else None
        records.append(
            prediction(
                f"x-{i}", "reference", CHAMPION, None if failed else "0", at=NOW, error=failed
            )
        )
    write(logs, "predictions", records)
    champion = analyse(str(logs), NAME, SINCE).champion
    # Users saw 10 champion answers; the champion tried 20 and failed 2 of them.
    assert (champion.requests, champion.errors) == (10, 2)
    assert champion.error_rate == pytest.approx(0.1)


def test_p99_latency_is_per_request_not_per_row(logs: Path) -> None:
    challenger_ms = [float(i) for i in range(1, 101)]
    records = [
        prediction(f"x-{i}", "challenger", CHALLENGER, "0", at=NOW, latency_ms=ms)
        for i, ms in enumerate(challenger_ms)
    ]
    # One slow request of 50 rows must weigh as one request, not fifty.
    records += [
        prediction("big", "champion", CHAMPION, "0", at=NOW, row=r, latency_ms=900.0)
        for r in range(50)
    ]
    records += [
        prediction(f"c-{i}", "champion", CHAMPION, "0", at=NOW, latency_ms=10.0) for i in range(99)
    ]
    write(logs, "predictions", records)
    found = analyse(str(logs), NAME, SINCE)
    assert found.challenger.p99_latency_ms == pytest.approx(np.quantile(challenger_ms, 0.99))
    assert found.champion.p99_latency_ms == pytest.approx(np.quantile([10.0] * 99 + [900.0], 0.99))


def test_failed_requests_have_no_latency(logs: Path) -> None:
    write(
        logs,
        "predictions",
        [
            prediction("a", "challenger", CHALLENGER, "0", at=NOW, latency_ms=4.0),
            prediction("b", "challenger", CHALLENGER, None, at=NOW, latency_ms=0.0, error="E: x"),
        ],
    )
    assert analyse(str(logs), NAME, SINCE).challenger.p99_latency_ms == pytest.approx(4.0)


def test_canary_agreement_comes_from_the_champions_reference_answers(logs: Path) -> None:
    # 50 challenger requests: 2 failed (not compared), 5 answered otherwise than the champion.
    write(logs, "predictions", canary_traffic(100, at=NOW, errors=2, disagree=5))
    found = analyse(str(logs), NAME, SINCE)
    assert found.compared_rows == 48
    assert found.agreement == pytest.approx(43 / 48)


def test_shadow_agreement_compares_the_copy_with_the_answer(logs: Path) -> None:
    records = []
    for i in range(20):
        for row in range(2):
            records.append(prediction(f"s-{i}", "champion", CHAMPION, "0", at=NOW, row=row))
            answer = "1" if (i, row) == (0, 1) else "0"
            records.append(prediction(f"s-{i}", "shadow", CHALLENGER, answer, at=NOW, row=row))
    write(logs, "predictions", records)
    found = analyse(str(logs), NAME, SINCE)
    assert found.challenger.requests == 20  # shadow copies count as the challenger's requests
    assert found.champion.requests == 20
    assert found.compared_rows == 40
    assert found.agreement == pytest.approx(39 / 40)


def test_live_accuracy_joins_the_first_label_of_each_request_and_row(logs: Path) -> None:
    records = []
    for i in range(10):
        records.append(prediction(f"c-{i}", "champion", CHAMPION, "0", at=NOW))
        records.append(prediction(f"x-{i}", "challenger", CHALLENGER, "1", at=NOW, row=0))
        records.append(prediction(f"x-{i}", "challenger", CHALLENGER, "1", at=NOW, row=1))
        records.append(prediction(f"x-{i}", "reference", CHAMPION, "0", at=NOW, row=0))
    write(logs, "predictions", records)
    later = NOW + timedelta(seconds=30)
    # Champion: 8 of 10 labelled right at first; c-0's first label is wrong, and the one
    # sent later to set it right changes nothing (at most one label counts per row).
    write(
        logs,
        "feedback",
        [label(f"c-{i}", "0" if i < 8 else "1", at=later) for i in range(10)]
        + [label("c-0", "1", at=NOW)],
    )
    # Challenger: rows 0 of 6 requests right; row 1 of request x-0 labelled wrong, then right.
    write(
        logs,
        "feedback",
        [label(f"x-{i}", "1", at=later) for i in range(6)]
        + [label("x-0", "0", at=NOW, row=1), label("x-0", "1", at=later, row=1)],
    )
    found = analyse(str(logs), NAME, SINCE)
    assert (found.champion.labelled, found.champion.correct) == (10, 7)
    assert found.champion.accuracy == pytest.approx(0.7)
    assert (found.challenger.labelled, found.challenger.correct) == (7, 6)
    assert found.challenger.accuracy == pytest.approx(6 / 7)


def test_a_label_counts_once_however_many_answers_share_its_request_id(logs: Path) -> None:
    # 60 answers per version under one request id (as clients could choose ids before the
    # gateway issued them all), and two labels: each version has one labelled row.
    records = []
    for i in range(60):
        records.append(prediction("shared", "champion", CHAMPION, "0", at=NOW, latency_ms=i))
        records.append(prediction("shared", "challenger", CHALLENGER, "0", at=NOW, latency_ms=i))
    write(logs, "predictions", records)
    write(logs, "feedback", [label("shared", "1", at=NOW), label("shared", "0", at=NOW)])
    found = analyse(str(logs), NAME, SINCE)
    assert (found.champion.labelled, found.challenger.labelled) == (1, 1)
    assert found.champion.correct == found.challenger.correct


def test_shadow_copies_get_live_accuracy_from_the_labels_of_the_served_request(
    logs: Path,
) -> None:
    write(
        logs,
        "predictions",
        [
            prediction("s", "champion", CHAMPION, "0", at=NOW),
            prediction("s", "shadow", CHALLENGER, "1", at=NOW),
        ],
    )
    write(logs, "feedback", [label("s", "1", at=NOW)])
    found = analyse(str(logs), NAME, SINCE)
    assert (found.champion.labelled, found.champion.correct) == (1, 0)
    assert (found.challenger.labelled, found.challenger.correct) == (1, 1)


def test_only_traffic_since_the_window_start_and_of_this_model_counts(logs: Path) -> None:
    before = SINCE - timedelta(seconds=1)
    write(logs, "predictions", canary_traffic(40, at=before, prefix="old", errors=20))
    write(logs, "predictions", canary_traffic(20, at=NOW, prefix="new"))
    other = [
        prediction(f"o-{i}", "challenger", "9", None, at=NOW, model="other", error="E")
        for i in range(5)
    ]
    write(logs, "predictions", other)
    # Labels arrive after the window started, for predictions made before it: not counted.
    write(logs, "feedback", [label(f"old-{i}", "0", at=NOW) for i in range(40)])
    found = analyse(str(logs), NAME, SINCE)
    assert (found.challenger.requests, found.challenger.errors) == (10, 0)
    assert found.champion.requests == 10
    assert found.champion.labelled == found.challenger.labelled == 0
    assert analyse(str(logs), NAME, before).challenger.requests == 30


def test_segments_with_and_without_errors_read_together(logs: Path) -> None:
    # A segment whose error column is all null (null type in Parquet) beside one with text.
    write(logs, "predictions", canary_traffic(10, at=NOW, prefix="a"))
    write(logs, "predictions", canary_traffic(10, at=NOW, prefix="b", errors=5))
    found = analyse(str(logs), NAME, SINCE)
    assert (found.challenger.requests, found.challenger.errors) == (10, 5)


def test_a_regressors_answers_agree_and_are_correct_within_the_tolerance(logs: Path) -> None:
    records = []
    for i in range(20):
        truth = 200.0 + i
        # The challenger answers 2% off the champion's answer (agrees at 5%), and the
        # champion 1% off the label; the challenger of the last 5 rows is 20% off.
        champion, challenger = truth * 1.01, truth * 1.01 * (1.2 if i >= 15 else 1.02)
        records.append(prediction(f"x-{i}", "challenger", CHALLENGER, f"{challenger}", at=NOW))
        records.append(prediction(f"x-{i}", "reference", CHAMPION, f"{champion}", at=NOW))
    write(logs, "predictions", records)
    write(logs, "feedback", [label(f"x-{i}", f"{200.0 + i}", at=NOW) for i in range(20)])
    exact = analyse(str(logs), NAME, SINCE)
    assert (exact.compared_rows, exact.agreement, exact.challenger.correct) == (20, 0.0, 0)
    within = analyse(str(logs), NAME, SINCE, tolerance=0.05)
    assert within.agreement == pytest.approx(15 / 20)
    assert (within.challenger.labelled, within.challenger.correct) == (20, 15)


def test_a_shadows_paired_rows_count_where_only_one_version_was_right(logs: Path) -> None:
    records = []
    for i in range(12):
        champion, shadow = ("1", "0") if i < 3 else ("0", "1") if i < 4 else ("0", "0")
        records.append(prediction(f"s-{i}", "champion", CHAMPION, champion, at=NOW))
        records.append(prediction(f"s-{i}", "shadow", CHALLENGER, shadow, at=NOW))
    records.append(prediction("c-0", "champion", CHAMPION, "1", at=NOW))  # no shadow copy
    write(logs, "predictions", records)
    # Labels "1" for the first 10 requests and the uncopied one; s-10 and s-11 unlabelled.
    later = NOW + timedelta(seconds=5)
    write(
        logs,
        "feedback",
        [label(f"s-{i}", "1", at=later) for i in range(10)] + [label("c-0", "1", at=later)],
    )
    found = analyse(str(logs), NAME, SINCE, paired=True)
    # s-0..2: only the champion right; s-3: only the shadow; s-4..9 both wrong
    assert (found.paired_labelled, found.champion_only, found.challenger_only) == (10, 3, 1)
    assert analyse(str(logs), NAME, SINCE).paired_labelled == 0  # counted only when asked
