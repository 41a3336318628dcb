import json

import pytest

from raygate.errors import GoldSetError
from raygate.goldset import BUILTIN_GOLDSETS, load_goldset, scan_goldset

GOOD = {"id": "g1", "query": "What is the price?", "expected": "$1.00", "category": "factual"}


def write(tmp_path, *lines: str):
    path = tmp_path / "gold.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_builtin_sets_load_with_name_and_hash():
    for name in BUILTIN_GOLDSETS:
        info = scan_goldset(name)
        assert info.name == name
        assert info.content_hash.startswith("sha256:") and len(info.content_hash) == 71


def test_builtin_sizes_and_categories():
    smoke, dev = scan_goldset("smoke"), scan_goldset("dev")
    assert smoke.rows == 30 and dev.rows >= 500
    categories = {"factual", "numeric", "multi_hop", "unanswerable", "pii", "disallowed"}
    assert set(smoke.categories) == categories == set(dev.categories)


def test_any_file_in_the_format_loads_and_a_single_answer_becomes_a_list(tmp_path):
    path = write(
        tmp_path, json.dumps(GOOD), json.dumps({"id": "g2", "query": "q", "expected": ["a", "b"]})
    )
    gold = load_goldset(path)
    assert gold.info.name == "gold" and gold.info.rows == 2
    assert gold.rows[0].expected == ["$1.00"]
    assert gold.info.categories == {"factual": 1, "uncategorized": 1}


def test_rows_without_ids_are_known_by_their_content_wherever_they_are_read(tmp_path):
    from raygate.goldset import GoldRow

    lines = [
        '{"query": "What is 2+2?", "expected": "4"}',
        '{"query": "Capital?", "expected": ["Paris"]}',
    ]
    loaded = load_goldset(write(tmp_path, *lines)).rows
    assert all(row.id.startswith("q-") for row in loaded) and loaded[0].id != loaded[1].id
    assert GoldRow.model_validate_json(lines[0]).id == loaded[0].id  # as an eval worker reads it
    moved = load_goldset(write(tmp_path, "", lines[1], lines[0])).rows  # reordered, still its id
    assert {row.id for row in moved} == {row.id for row in loaded}
    twice = write(tmp_path, lines[0], '{"query": "What is 2+2?", "expected": ["4"]}')
    with pytest.raises(GoldSetError, match=r":2: the same query and expected answers as line 1"):
        load_goldset(twice)


@pytest.mark.parametrize(
    ("line", "hint"),
    [
        ('{"question": "q", "answer": "a"}', "rename question → query, answer → expected"),
        ('{"query": "q", "ground_truth": "a"}', "rename ground_truth → expected"),
    ],
)
def test_other_tools_names_for_question_and_answer_are_told_their_names_here(tmp_path, line, hint):
    with pytest.raises(GoldSetError, match=hint):
        load_goldset(write(tmp_path, line))


@pytest.mark.parametrize(
    ("line", "hint"),
    [
        ('{"query": "q", "expected": []}', r'give at least one acceptable answer, e\.g\.'),
        ('{"query": "q", "expected": [], "category": "Unanswerable"}',
         r"""category unanswerable is correct when the model abstains; .*\["I don't know\."\]"""),
        ('{"query": "q", "category": "disallowed"}', r"""when the model refuses; .*\["I can't"""),
    ],
)  # fmt: skip
def test_a_row_without_an_expected_answer_is_told_what_to_give(tmp_path, line, hint):
    with pytest.raises(GoldSetError, match=r"1: field 'expected': .*" + hint):
        load_goldset(write(tmp_path, line))


def test_a_csv_or_a_json_array_is_named_with_how_to_convert_it(tmp_path):
    import subprocess
    import sys

    csv = tmp_path / "tests.csv"
    csv.write_text("query,expected\nWhat is the price?,$1.00\n")
    array = tmp_path / "tests.json"
    array.write_text(json.dumps([GOOD], indent=1))
    with pytest.raises(GoldSetError, match=r"tests\.json:1: .*one JSON array.*jq -c"):
        load_goldset(array)
    array.write_text(json.dumps([GOOD]))  # on one line: valid JSON, but not an object
    with pytest.raises(GoldSetError, match=r"tests\.json:1: .*one JSON array.*jq -c"):
        load_goldset(array)
    array.write_text(json.dumps(GOOD, indent=1))  # pretty-printed: one object, several lines
    with pytest.raises(
        GoldSetError, match=r"tests\.json:1: .*spread over several lines.*jq -c \. "
    ):
        load_goldset(array)
    with pytest.raises(GoldSetError, match=r"tests\.csv:1: .*looks like CSV") as told:
        load_goldset(csv)
    command = told.value.args[0].split("`")[1]  # the conversion it suggests works as told
    subprocess.run(command.replace("python", sys.executable, 1), shell=True, cwd=tmp_path,
                   check=True)  # fmt: skip
    assert load_goldset(tmp_path / "gold.jsonl").rows[0].expected == ["$1.00"]


def test_a_gz_bz2_or_zst_gold_set_is_read_and_hashed_as_its_text(tmp_path):
    import bz2
    import gzip

    import pyarrow as pa

    text = (json.dumps(GOOD) + "\n\n" + json.dumps(GOOD | {"id": "g2"}) + "\n").encode()
    plain = load_goldset(write(tmp_path, text.decode()))
    (tmp_path / "gold.jsonl.gz").write_bytes(gzip.compress(text))
    (tmp_path / "gold.jsonl.bz2").write_bytes(bz2.compress(text))
    with pa.output_stream(str(tmp_path / "gold.jsonl.zst"), compression="zstd") as out:
        out.write(text)
    for name in ("gold.jsonl.gz", "gold.jsonl.bz2", "gold.jsonl.zst"):
        packed = load_goldset(tmp_path / name)
        assert packed.info.name == "gold" and packed.info.content_hash == plain.info.content_hash
    bad = (json.dumps(GOOD) + "\n{not json\n").encode()
    (tmp_path / "bad.jsonl.gz").write_bytes(gzip.compress(bad))
    with pytest.raises(GoldSetError, match=r"bad\.jsonl\.gz:2: not valid JSON"):
        load_goldset(tmp_path / "bad.jsonl.gz")  # lines are named as decompressed
    (tmp_path / "cut.jsonl.gz").write_bytes(gzip.compress(text)[:20])
    with pytest.raises(GoldSetError, match=r"cut\.jsonl\.gz: cannot be read as gzip"):
        load_goldset(tmp_path / "cut.jsonl.gz")


def test_a_compressed_or_parquet_gold_set_it_cannot_read_is_named_with_how_to_convert_it(
    tmp_path,
):
    import gzip
    import lzma
    import subprocess
    import sys

    import pandas as pd

    (tmp_path / "gold.jsonl.xz").write_bytes(lzma.compress((json.dumps(GOOD) + "\n").encode()))
    pd.DataFrame([{"query": "What is the price?", "expected": "$1.00"}]).to_parquet(
        tmp_path / "tests.parquet"
    )
    for name, kind in [("gold.jsonl.xz", "xz-compressed"), ("tests.parquet", "Parquet")]:
        with pytest.raises(GoldSetError, match=rf"{name}: the file is {kind}, not JSON") as told:
            load_goldset(tmp_path / name)
        command = told.value.args[0].split("`")[1]  # the conversion it suggests works as told
        subprocess.run(command.replace("python", sys.executable, 1), shell=True, cwd=tmp_path,
                       check=True)  # fmt: skip
        assert load_goldset(tmp_path / "gold.jsonl").rows
        (tmp_path / "gold.jsonl").unlink()
    (tmp_path / "gold.jsonl").write_bytes(gzip.compress((json.dumps(GOOD) + "\n").encode()))
    with pytest.raises(GoldSetError, match=r"gzip-compressed.*name ending in \.gz, \.bz2 or"):
        load_goldset(tmp_path / "gold.jsonl")  # compressed, but not named so


def test_numbers_are_taken_as_their_text_and_booleans_are_refused(tmp_path):
    numbers = {"id": 7, "query": "What is 6 times 7?", "expected": 42}
    gold = load_goldset(write(tmp_path, json.dumps(numbers)))
    assert gold.rows[0].id == "7" and gold.rows[0].expected == ["42"]
    listed = {"id": "g", "query": "q", "expected": [4.5, "four and a half"]}
    assert load_goldset(write(tmp_path, json.dumps(listed))).rows[0].expected[0] == "4.5"
    with pytest.raises(GoldSetError, match=r":1: field 'expected'"):
        load_goldset(write(tmp_path, json.dumps({"id": "g", "query": "q", "expected": True})))


def test_an_mlflow_evaluation_dataset_record_is_named_as_such(tmp_path):
    record = {"inputs": {"question": "q"}, "expectations": {"expected_response": "a"}}
    with pytest.raises(GoldSetError, match="MLflow evaluation-dataset record: write the question"):
        load_goldset(write(tmp_path, json.dumps(record)))


def test_hash_ignores_formatting_but_not_content(tmp_path):
    a = write(tmp_path, json.dumps(GOOD))
    hash_a = scan_goldset(a).content_hash
    (tmp_path / "b.jsonl").write_text(json.dumps(GOOD, indent=None, separators=(",", ":")) + "\n\n")
    assert scan_goldset(tmp_path / "b.jsonl").content_hash == hash_a
    (tmp_path / "c.jsonl").write_text(json.dumps({**GOOD, "expected": "$2.00"}) + "\n")
    assert scan_goldset(tmp_path / "c.jsonl").content_hash != hash_a


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "x", "query": "q"}', r"gold.jsonl:2: field 'expected': Field required"),
        ("{not json", r"gold.jsonl:2: not valid JSON"),
        ("[1, 2]", r"gold.jsonl:2: input should be an object"),
        (
            '{"id": "x", "query": "q", "expected": "a", "answer": 1}',
            r":2: field 'answer': Extra.*under metadata, e\.g\. \"metadata\": \{\"answer\": …\}",
        ),
        ('{"id": "x", "query": "", "expected": "a"}', r":2: field 'query'"),
        (
            '{"id": "x", "query": " \\n\\t", "expected": "a"}',
            r":2: field 'query': the query is blank; write the question",
        ),
        ('{"id": "x", "query": "q", "expected": []}', r":2: field 'expected'"),
        (
            '{"id": "x", "query": "q", "expected": true}',
            r":2: field 'expected': expected is an answer \(text or a number\) or a list of them "
            r"\(got True\)",
        ),
        (
            '{"id": "x", "query": "q", "expected": "a", "category": "2024"}',
            r":2: field 'category': '2024' is not a category: name it with a word",
        ),
        ('{"id": "g1", "query": "q", "expected": "a"}', r":2: field 'id': duplicate id 'g1'"),
        (
            '{"id": "x", "query": "q", "expected": "a", "match": "fuzzy"}',
            r":2: field 'match': Input should be 'contains' or 'exact' \(got 'fuzzy'\)",
        ),
    ],
)
def test_malformed_line_names_file_line_and_field(tmp_path, line, message):
    path = write(tmp_path, json.dumps(GOOD), line)
    with pytest.raises(GoldSetError, match=message):
        load_goldset(path)


def test_categories_are_read_as_metrics_name_them(tmp_path):
    lines = [dict(GOOD, id=f"g{i}", category=c) for i, c in
             enumerate(["Tech Support", "tech-support", "Multi-Hop", "Facturación"])]  # fmt: skip
    loaded = load_goldset(write(tmp_path, *map(json.dumps, lines)))
    assert [row.category for row in loaded.rows] == [
        "tech_support", "tech_support", "multi_hop", "facturación"
    ]  # fmt: skip
    assert loaded.info.categories == {"facturación": 1, "multi_hop": 1, "tech_support": 2}


def test_empty_file_is_an_error(tmp_path):
    with pytest.raises(GoldSetError, match="empty"):
        load_goldset(write(tmp_path, ""))


def test_unknown_source_lists_builtin_names(tmp_path):
    with pytest.raises(GoldSetError, match=r"neither a built-in name \(smoke, dev\)"):
        scan_goldset("no-such-set")
    write(tmp_path, json.dumps(GOOD))
    with pytest.raises(GoldSetError, match=r"a folder; pass one JSONL file \(here: gold.jsonl\)"):
        scan_goldset(tmp_path)
    with pytest.raises(GoldSetError, match=r"is a remote URI; .* copy it here first"):
        scan_goldset("s3://bucket/gold.jsonl")


def test_a_byte_order_mark_is_read_past_and_bytes_that_are_not_utf8_are_named(tmp_path):
    """Excel and PowerShell's UTF-8 files begin with a byte-order mark: the same rows, the
    same content hash, as the file without it (Ray Data's eval workers read past it too)."""
    from raygate.goldset.loader import gold_line

    line = '{"id": "a", "query": "q", "expected": "x"}\n'
    path = tmp_path / "gold.jsonl"
    path.write_bytes(line.encode())
    plain = scan_goldset(path).content_hash
    path.write_bytes(b"\xef\xbb\xbf" + line.encode())
    assert scan_goldset(path).content_hash == plain
    assert gold_line("\ufeff" + line).id == "a"
    path.write_bytes(line.encode() + '{"id": "b", "query": "café", "expected": "x"}\n'.encode(
        "latin-1"))  # fmt: skip
    with pytest.raises(GoldSetError, match=r"gold.jsonl:2: byte 0xe9 at column 26 is not UTF-8"):
        scan_goldset(path)
    path.write_text(line + '{"id": "b", "query": "caf\\ud800", "expected": "x"}\n')
    with pytest.raises(GoldSetError, match=r"gold.jsonl:2: not valid JSON \(.*: half of a UTF-16 "
                       r"surrogate pair; write the character as UTF-8"):  # fmt: skip
        scan_goldset(path)
