import pytest

from mtb.cli.common import expand_multi_value_options, split_model_list, stderr_console


def test_model_list_takes_values_up_to_the_next_flag() -> None:
    args = ["--model-list", "a", "b", "--parallel", "4", "--model-list", "c", "--dry-run"]
    assert expand_multi_value_options(args) == [
        "--model-list",
        "a",
        "--model-list",
        "b",
        "--parallel",
        "4",
        "--model-list",
        "c",
        "--dry-run",
    ]


def test_other_options_are_untouched() -> None:
    args = ["--judge-model", "x", "--first-n", "3"]
    assert expand_multi_value_options(args) == args


def test_split_model_list_accepts_commas_and_drops_repeats() -> None:
    assert split_model_list(["a,b", "c", "a"]) == ["a", "b", "c"]
    assert split_model_list(None) is None


def test_names_with_emoji_codes_are_printed_as_they_are(capsys: pytest.CaptureFixture[str]) -> None:
    stderr_console().print("model x:smile:y", markup=False)
    assert "model x:smile:y" in capsys.readouterr().err
