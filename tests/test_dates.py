import pytest

from rag.dates import written_dates


@pytest.mark.parametrize(
    "text, days",
    [
        ("2024-07-10 我是你的眼", {(2024, 7, 10)}),
        ("market-show-2024/7/10.mp3", {(2024, 7, 10)}),
        ("眼哥股市会7月10日-逐字稿", {(None, 7, 10)}),
        ("2024年7月10号的节目", {(2024, 7, 10)}),
        ("On the July 10 market show", {(None, 7, 10)}),  # "10 market" is no 10 March
        ("the 10th of July, 2024", {(2024, 7, 10)}),
        ("Sept. 3rd", {(None, 9, 3)}),
        ("the episode from March 2017", {(2017, 3, None)}),
        ("May 5", {(None, 5, 5)}),
        # no date: a month alone, "may" the verb, a two-digit year, impossible values
        ("in July", set()),
        ("you may 10x it", set()),
        ("荐书22-07-2", set()),
        ("7月", set()),
        ("2024-13-45", set()),
    ],
)
def test_written_dates(text, days):
    assert written_dates(text) == days


@pytest.mark.parametrize(
    "value, day",
    [
        ("2024-03-05", "2024-03-05"),
        ("2024年3月5日", "2024-03-05"),
        ("March 5, 2024", "2024-03-05"),
        ("5 March 2024", "2024-03-05"),
        ("2017-03-27T08:00:00Z", "2017-03-27"),
        ("2024-02-30", ""),
        ("March 2024", ""),  # no day
        ("last week", ""),
    ],
)
def test_iso_day(value, day):
    from rag.dates import iso_day

    assert iso_day(value) == day
