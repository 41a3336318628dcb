"""A pyfunc priced by the `raygate.pricing` it was logged with (pure logic; the logged and
loaded model is in tests/integration/test_eval.py)."""

import pytest

from raygate.errors import ModelLoadError
from raygate.packaging.pricing import logged_prices, priced

TOKENS = {"tokens_in": 1000, "tokens_out": 100}


def test_prices_come_from_the_table_or_the_fields_and_none_without():
    assert logged_prices(None) is None and logged_prices({"other": 1}) is None
    table = logged_prices({"raygate": {"pricing": {"model": "gpt-4o-mini"}}})
    assert table["input_cost_per_token"] == 1.5e-07
    own = {"model": "gpt-4o-mini", "output_cost_per_token": 1e-6}  # a field overrides the table
    assert logged_prices({"raygate": {"pricing": own}})["output_cost_per_token"] == 1e-6
    with pytest.raises(ModelLoadError, match=r"raygate.pricing: field 'input_cost_per_tokens'"):
        logged_prices({"raygate": {"pricing": {"input_cost_per_tokens": 1}}})


def test_a_row_is_priced_only_when_it_has_no_cost_and_its_figures_are_known():
    prices = {"input_cost_per_token": 1e-6, "output_cost_per_token": 4e-6}
    assert priced(TOKENS, prices, None)["cost_usd"] == pytest.approx(0.0014)
    assert priced(TOKENS | {"cost_usd": 0.5}, prices, None)["cost_usd"] == 0.5  # its own wins
    assert "cost_usd" not in priced({"tokens_in": 1000}, prices, None)  # missing, never 0
    assert "cost_usd" not in priced(TOKENS, None, 1.0)
    hourly = {"compute_usd_per_hour": 3.6}
    assert priced({}, hourly, 2.0)["cost_usd"] == pytest.approx(0.002)
    assert "cost_usd" not in priced({}, hourly, None)  # the time was not measured
