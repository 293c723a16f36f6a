import json
import stat
from pathlib import Path

import pytest

from mtb.errors import DataError, OutputLockedError
from mtb.jsonl import (
    UNFINISHED,
    JsonlAppender,
    complete_lines,
    is_unfinished,
    iter_json_lines,
    read_records,
    read_text,
    repair_tail,
    unfinished_lines,
    write_atomically,
)
from mtb.records import Question


def test_bad_json_reports_path_and_line(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"question_id": 1, "category": "x", "turns": ["a"]}\n\n{"question_id": 2,\n')
    with pytest.raises(DataError) as info:
        read_records(path, Question.from_json)
    assert str(info.value).startswith(f"{path}:3: not valid JSON")


def test_invalid_record_reports_path_and_line(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(
        '{"question_id": 1, "category": "x", "turns": ["a"]}\n{"question_id": 2, "turns": ["b"]}\n'
    )
    with pytest.raises(DataError, match=r"q.jsonl:2: missing field 'category'"):
        read_records(path, Question.from_json)


# Cut inside a string, a value, between fields, in a UTF-8 character, and deep in brackets.
UNFINISHED_TAILS = ['{"a": "tex', '{"a": ', '{"a": 1,', '{"a": "\u00e9', '{"a": ' + "[" * 5000]


@pytest.mark.parametrize("tail", UNFINISHED_TAILS)
def test_an_unfinished_last_line_is_left_out_with_one_note(tmp_path: Path, tail: str) -> None:
    path = tmp_path / "judgments.jsonl"
    raw = ('{"a": 1}\n{"a": 2}\n' + tail).encode()
    path.write_bytes(raw[:-1] if tail.endswith("\u00e9") else raw)  # half of the é
    with unfinished_lines() as left_out:
        assert [obj for _, obj in iter_json_lines(path)] == [{"a": 1}, {"a": 2}]
        assert [obj for _, obj in iter_json_lines(path)] == [{"a": 1}, {"a": 2}]  # read twice
        assert complete_lines(path, path.read_bytes()) == b'{"a": 1}\n{"a": 2}\n'
    assert [str(line) for line in left_out] == [f"{path}:3: {UNFINISHED}"]


def test_only_a_last_line_without_its_newline_can_be_unfinished(tmp_path: Path) -> None:
    path = tmp_path / "judgments.jsonl"
    path.write_text('{"a": 1}\n{"a": \n{"a": 3}\n')  # a bad line in the middle
    with pytest.raises(DataError, match=r"judgments.jsonl:2: not valid JSON"):
        list(iter_json_lines(path))
    path.write_text('{"a": 1}\n{"a": \n')  # the last line, but its newline was written: not unfinished
    with pytest.raises(DataError, match=r"judgments.jsonl:2: not valid JSON"):
        list(iter_json_lines(path))
    path.write_text('{"a": 1}\n[1, 2]')  # complete, but not an object: an error, not being written
    with pytest.raises(DataError, match=r"judgments.jsonl:2: expected a JSON object"):
        list(iter_json_lines(path))
    path.write_text('{"a": 1}\n{"a": 2}')  # complete without its newline: read
    assert [obj for _, obj in iter_json_lines(path)] == [{"a": 1}, {"a": 2}]
    assert not is_unfinished(b'{"a": NaN}') and not is_unfinished(b"   ") and is_unfinished(b'{"a"')
    # A file known to be whole (a download being verified): its last line cut short is an error.
    path.write_text('{"a": 1}\n{"a": ')
    with pytest.raises(DataError, match=r"judgments.jsonl:2: not valid JSON"):
        list(iter_json_lines(path, whole=True))


def test_a_writer_cuts_the_unfinished_line_and_says_so_once(tmp_path: Path) -> None:
    path = tmp_path / "judgments.jsonl"
    path.write_text('{"a": 1}\n{"a": ')
    with unfinished_lines() as left_out:
        assert [obj for _, obj in iter_json_lines(path)] == [{"a": 1}]  # the resume scan
        with JsonlAppender(path) as out:  # then the writer, holding the lock
            out.write({"a": 2})
    assert left_out == []  # the writer's note replaces the readers'
    assert out.notes and "removed an incomplete last line" in out.notes[0]
    assert path.read_text() == '{"a": 1}\n{"a": 2}\n'


def test_a_torn_last_line_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": ')
    note = repair_tail(path)
    assert note and "incomplete last line" in note
    assert path.read_text() == '{"a": 1}\n{"a": 2}\n'


def test_a_complete_last_line_without_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}')
    assert repair_tail(path) is None
    assert path.read_text() == '{"a": 1}\n{"a": 2}\n'


def test_appender_writes_whole_lines_and_rewrites_atomically(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "out.jsonl"
    with JsonlAppender(path) as out:
        out.write({"b": 2})
        out.write({"a": "é"})
        assert [json.loads(line) for line in path.read_text().splitlines()] == [
            {"b": 2},
            {"a": "é"},
        ]
        out.rewrite([{"a": "é"}])
        out.write({"c": 3})
    assert path.read_text(encoding="utf-8").splitlines() == ['{"a": "é"}', '{"c": 3}']
    assert not list(path.parent.glob("*.tmp"))


def test_second_writer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with (
        JsonlAppender(path),
        pytest.raises(OutputLockedError, match="another mtb process"),
        JsonlAppender(path),
    ):
        pass


def test_the_lock_file_goes_when_the_writer_is_done(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with JsonlAppender(path) as out:
        assert Path(f"{path}.lock").exists()
        out.write({"a": 1})
    assert not Path(f"{path}.lock").exists()
    with JsonlAppender(path) as again:  # and the next writer takes the lock anew
        again.write({"a": 2})
    assert [obj for _, obj in iter_json_lines(path)] == [{"a": 1}, {"a": 2}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_a_file_made_and_never_written_is_taken_away(tmp_path: Path) -> None:
    made = tmp_path / "typo.jsonl"
    with JsonlAppender(made):
        pass
    assert not made.exists()
    kept = tmp_path / "kept.jsonl"
    kept.touch()  # an empty file that was there before is not this run's to remove
    with JsonlAppender(kept):
        pass
    assert kept.exists()


def test_an_output_that_is_a_link_stays_a_link_and_its_target_gets_every_line(tmp_path: Path) -> None:
    shared = tmp_path / "shared" / "judgments.jsonl"
    shared.parent.mkdir()
    shared.write_text('{"a": 1}\n')
    shared.chmod(0o664)
    output = tmp_path / "mine" / "judgments.jsonl"
    output.parent.mkdir()
    output.symlink_to(shared)
    other = tmp_path / "other.jsonl"
    other.symlink_to(shared)
    with JsonlAppender(output) as out:
        out.write({"a": 3})
        # A second link to the same file shares its lock: two runs never interleave lines in it.
        with pytest.raises(OutputLockedError, match=str(shared) + ".lock"):
            JsonlAppender(other).__enter__()
        out.rewrite([{"a": 1}, {"a": 2}, {"a": 3}])  # the final sorted rewrite
        out.write({"a": 4})
    assert output.is_symlink() and output.resolve() == shared
    assert [json.loads(line)["a"] for line in shared.read_text().splitlines()] == [1, 2, 3, 4]
    assert stat.S_IMODE(shared.stat().st_mode) == 0o664
    assert sorted(p.name for p in shared.parent.iterdir()) == ["judgments.jsonl"]  # no temp, no lock
    write_atomically(other, ['{"a": 5}'])
    assert other.is_symlink() and shared.read_text() == '{"a": 5}\n'


def test_a_link_to_nothing_yet_gets_its_target_made(tmp_path: Path) -> None:
    shared = tmp_path / "shared.jsonl"
    output = tmp_path / "judgments.jsonl"
    output.symlink_to(shared)
    with JsonlAppender(output):
        pass  # made and never written: taken away again, the link left as it was
    assert output.is_symlink() and not shared.exists()
    with JsonlAppender(output) as out:
        out.write({"a": 1})
    assert output.is_symlink() and shared.read_text() == '{"a": 1}\n'


def test_write_atomically_leaves_old_file_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text("old\n")

    def lines():
        yield "new"
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write_atomically(path, lines())
    assert path.read_text() == "old\n"
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_utf16_file_is_named_as_such(tmp_path: Path, encoding: str) -> None:
    # Before: "not valid UTF-8 (byte 0xff at column 1)", which does not say what to do.
    path = tmp_path / "question.jsonl"
    bom = "\ufeff" if encoding != "utf-16" else ""  # the codec "utf-16" writes its own
    path.write_bytes((bom + '{"question_id": 1}\n').encode(encoding))
    for read in (lambda: list(iter_json_lines(path)), lambda: read_text(path)):
        with pytest.raises(DataError) as caught:
            read()
        assert (
            str(caught.value)
            == f"{path}:1: is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8"
        )
