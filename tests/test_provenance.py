"""mtb.provenance: run files, hosts without credentials, and the settings check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mtb.errors import DataError
from mtb.provenance import Run, check, endpoint_host, endpoint_settings, read_runs, run_file_for


def test_hosts_never_carry_credentials_paths_or_queries() -> None:
    assert endpoint_host("https://user:pw@example.com:8443/v1?key=sk-x") == "example.com:8443"
    assert endpoint_host("http://127.0.0.1:8000/v1") == "127.0.0.1:8000"
    assert endpoint_host(None) is None
    assert endpoint_settings("openai", "gpt-4", [None])["endpoint"] == "api.openai.com"
    assert endpoint_settings("openai", "m", ["http://a:1/v1", "http://b:2/v1"])["endpoint"] == ["a:1", "b:2"]


def test_run_file_sits_beside_the_output(tmp_path: Path) -> None:
    assert run_file_for(tmp_path / "gpt-4_single.jsonl") == tmp_path / "gpt-4_single.runs.jsonl"
    assert run_file_for(tmp_path / "gpt-4-1106-preview") == tmp_path / "gpt-4-1106-preview.runs.jsonl"


def test_lines_of_one_run_merge_so_others_can_extend_it(tmp_path: Path) -> None:
    run = Run.for_output(tmp_path / "x.jsonl", "judge", {"model": "gpt-4", "temperature": 0})
    run.finish(completed=1)  # nothing written yet: no line
    assert not run.path.exists()
    run.begin()
    run.begin()  # once only
    run.finish(completed=3, served_models={"gpt-4-0613": 3})
    with run.path.open("a") as handle:  # e.g. cost totals, added later by another part of mtb
        handle.write(json.dumps({"run_id": run.run_id, "cost_usd": 0.5, "settings": {"price_in": 30}}) + "\n")
    (merged,) = read_runs(run.path).values()
    assert merged["completed"] == 3 and merged["cost_usd"] == 0.5
    assert merged["settings"] == {"model": "gpt-4", "temperature": 0, "price_in": 30}
    assert merged["started"] and merged["finished"] and merged["mtb_version"]


def test_a_line_without_run_id_is_path_line(tmp_path: Path) -> None:
    path = tmp_path / "x.runs.jsonl"
    path.write_text('{"run_id": "a"}\n{"started": "now"}\n')
    with pytest.raises(DataError, match=r"x\.runs\.jsonl:2: missing field 'run_id'"):
        read_runs(path)


def _runs(tmp_path: Path, *lines: dict) -> Path:
    output = tmp_path / "j.jsonl"
    run_file_for(output).write_text("".join(json.dumps(line) + "\n" for line in lines))
    return output


def test_check_names_each_setting_that_differs(tmp_path: Path) -> None:
    output = _runs(
        tmp_path,
        {"run_id": "a", "settings": {"model": "gpt-4", "temperature": 0, "prompts": {"p1": "1" * 64}}},
        {"run_id": "b", "settings": {"model": "gpt-4", "temperature": 0.7, "prompts": {"p1": "1" * 64}}},
        {"run_id": "c", "settings": {"model": "gpt-4", "temperature": 0, "endpoint": "other:1"}},
    )
    result = check(output, ["a", "a", "b", None, "c"])
    assert result.conflicts == ["temperature: 0 (3 judgment(s)) vs 0.7 (1 judgment(s))"]
    assert result.unknown == 1 and result.runs == 3  # the host is recorded, not compared
    assert check(output, ["a", "c", None]).conflicts == []
    missing = check(output, ["a", "zzz"])
    assert missing.missing_runs == ["zzz"] and missing.unknown == 1


def test_no_run_file_and_no_run_ids_is_all_unknown(tmp_path: Path) -> None:
    result = check(tmp_path / "j.jsonl", [None, None])
    assert (result.runs, result.unknown, result.conflicts) == (0, 2, [])
    assert "not a conflict by itself" in result.notes()[0]
