"""The pyarrow path for plain numbers gives exactly what the general METI parser gives."""

import numpy as np
import pandas as pd
import pytest

from spillover import parsing

WRITTEN = [
    "1", "-12", "0012.50", "1,234,500", " 42 ", "1,234.56", "-0", "99999999999999999999",
    "", "-", "χ", "X", "不明", "NA", "nan", "－", "1,2,3", "1e5", "１２", "△5", "inf", "12.",
    ".5", "約500", "\u300012", "0.1", "123456789.123456789",
]  # fmt: skip


@pytest.mark.parametrize("value", WRITTEN)
def test_a_value_the_fast_path_takes_parses_as_the_general_parser_parses_it(value):
    raw = pd.Series([value, None, "7"], dtype="str")
    fast = parsing._plain_numbers(raw)
    values, failed = parsing._written_numbers(raw)
    if fast is None:
        assert value in {"1,2,3", "1e5", "１２", "△5", "inf", "12.", ".5", "約500", "\u300012"}
        return
    assert not failed.any()
    np.testing.assert_array_equal(fast.to_numpy(), values.to_numpy())


def test_random_columns_of_plain_numbers_and_null_tokens_parse_identically():
    rng = np.random.default_rng(3)
    draws = zip(rng.normal(0, 1e6, 5000), rng.integers(0, 4, 5000), strict=True)
    numbers = [round(v, int(digits)) for v, digits in draws]
    text = [f"{v:,}" if i % 3 == 0 else str(v) for i, v in enumerate(numbers)]
    text = [t if i % 17 else "χ" for i, t in enumerate(text)]
    raw = pd.Series(text, dtype="str")
    fast = parsing._plain_numbers(raw)
    assert fast is not None
    values, failed = parsing._written_numbers(raw)
    np.testing.assert_array_equal(fast.to_numpy(), values.to_numpy())
    assert not failed.any()
