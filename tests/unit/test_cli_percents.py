import pytest
import typer

from raygate.cli.percents import percent


@pytest.mark.parametrize(("text", "value"), [("5", 5.0), ("5%", 5.0), (" 12.5 % ", 12.5),
                                             ("0", 0.0), ("100%", 100.0)])  # fmt: skip
def test_percentages_are_numbers_with_or_without_a_percent_sign(text, value):
    assert percent(text) == value


@pytest.mark.parametrize(("text", "message"), [("abc", "not a percentage"), ("nan", "not a "
                         "percentage"), ("inf%", "not a percentage"), ("150", "outside 0-100"),
                         ("-5%", "outside 0-100")])  # fmt: skip
def test_a_percentage_that_is_not_one_or_out_of_range_is_refused(text, message):
    with pytest.raises(typer.BadParameter, match=message):
        percent(text)
