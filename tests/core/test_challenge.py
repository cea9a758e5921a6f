"""Challenge files: schema errors a person can act on, and plugin resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.challenge import load_challenge
from harness.errors import ChallengeError
from tests.conftest import TOY_CHALLENGE


def write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_toy_challenge_loads(toy_plugins, toy_challenge_file):
    c = load_challenge(toy_challenge_file, toy_plugins)
    assert (c.name, c.dataset, c.protocol, c.primary.key) == (
        "toy",
        "toy",
        "batch",
        "MEAN_GAP",
    )
    assert c.limits.memory_bytes == 1024 * 2**20
    assert len(c.sha256) == 64


def test_schema_error_names_file_location_value_and_expectation(tmp_path):
    path = write(
        tmp_path, TOY_CHALLENGE.replace("direction: higher", "direction: upward")
    )
    with pytest.raises(ChallengeError) as info:
        load_challenge(path)
    message = str(info.value)
    assert str(path) in message
    assert "metrics[0].direction (line 12)" in message
    assert "found 'upward', expected one of: 'higher', 'lower'" in message


def test_every_problem_reported_at_once(tmp_path):
    text = TOY_CHALLENGE.replace("positive: 1, ", "").replace(
        'version: "1"', 'version: "1"\ncolour: blue'
    )
    with pytest.raises(ChallengeError) as info:
        load_challenge(write(tmp_path, text))
    message = str(info.value)
    assert "2 problems" in message
    assert "unexpected key(s) 'colour'" in message
    assert "labels (line" in message and "'positive'" in message


def test_yaml_syntax_error_has_line(tmp_path):
    with pytest.raises(ChallengeError, match="not valid YAML at line 3"):
        load_challenge(write(tmp_path, "a: 1\nb: [1,\nc: : :\n"))


def test_unknown_plugin_names_suggest(tmp_path, toy_plugins):
    text = TOY_CHALLENGE.replace("metric: toy-gap", "metric: toy-gp").replace(
        "name: toy}", "name: tyo}"
    )
    with pytest.raises(ChallengeError) as info:
        load_challenge(write(tmp_path, text), toy_plugins)
    message = str(info.value)
    assert (
        "metrics[0].metric: unknown metric 'toy-gp'; did you mean 'toy-gap'?" in message
    )
    assert "dataset.name: unknown dataset 'tyo'; did you mean 'toy'?" in message


def test_one_primary_required(tmp_path):
    text = TOY_CHALLENGE.replace("primary: true", "primary: false")
    with pytest.raises(ChallengeError, match="exactly one column must have"):
        load_challenge(write(tmp_path, text))


def test_direction_must_agree_with_metric(tmp_path, toy_plugins):
    text = TOY_CHALLENGE.replace("direction: higher", "direction: lower")
    with pytest.raises(
        ChallengeError,
        match="found 'lower', but metric 'toy-gap' is better when higher",
    ):
        load_challenge(write(tmp_path, text), toy_plugins)


def test_unknown_phase_suggests(toy_plugins, toy_challenge_file):
    c = load_challenge(toy_challenge_file, toy_plugins)
    with pytest.raises(ChallengeError, match="did you mean 'development'"):
        c.phase("developmnet")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"a: &a [*a, *a]\n", "nested too deeply (or an alias refers to itself)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8 text"),
        (
            b"a: &a [x, x, x, x, x, x, x, x, x]\n"
            + b"".join(
                b"%s: &%s [%s]\n" % (k, k, b", ".join([b"*" + p] * 9))
                for p, k in zip(
                    [b"a", b"b", b"c", b"d", b"e", b"f", b"g", b"h", b"i"],
                    [b"b", b"c", b"d", b"e", b"f", b"g", b"h", b"i", b"j"],
                    strict=True,
                )
            ),
            "its aliases expand to more than",
        ),
    ],
)
def test_hostile_yaml_is_refused_cleanly(tmp_path, content, fragment):
    path = tmp_path / "hostile.yaml"
    path.write_bytes(content)
    with pytest.raises(
        ChallengeError, match=fragment.replace("(", r"\(").replace(")", r"\)")
    ):
        load_challenge(path)


def test_a_key_given_twice_is_refused_with_both_lines(tmp_path, toy_plugins):
    text = TOY_CHALLENGE.replace(
        "direction: higher,", "direction: higher, direction: lower,"
    )
    line = next(
        i for i, row in enumerate(text.splitlines(), 1) if "direction: lower" in row
    )
    with pytest.raises(ChallengeError) as info:
        load_challenge(write(tmp_path, text), toy_plugins)
    message = str(info.value)
    assert f"line {line}: the key 'direction' is given twice" in message
    assert f"(first at line {line})" in message
    top = TOY_CHALLENGE + 'version: "2"\n'
    with pytest.raises(ChallengeError, match=r"'version' is given twice .*line 3\)"):
        load_challenge(write(tmp_path, top), toy_plugins)


@pytest.mark.parametrize(
    "mapping", ["{1: x, 0x1: y}", "{true: 1, yes: 2}", "{'<<': a, '<<': b}"]
)
def test_keys_equal_once_loaded_are_given_twice(tmp_path, mapping):
    with pytest.raises(ChallengeError, match="is given twice in one mapping"):
        load_challenge(write(tmp_path, f"a: {mapping}\n"))


def test_two_merges_in_one_mapping_are_given_twice(tmp_path):
    text = "a: &a {x: 1}\nb: &b {y: 2}\nc: {<<: *a, <<: *b}\n"
    with pytest.raises(ChallengeError, match="'<<' is given twice"):
        load_challenge(write(tmp_path, text))


def test_protocol_axes_must_be_whole_numbers_as_written(tmp_path, toy_plugins):
    text = TOY_CHALLENGE.replace(
        "output_shape: []}", "output_shape: [], transpose: [1.0, 0]}"
    )
    with pytest.raises(
        ChallengeError, match=r"transpose\[0\]: found 1.0 \(float\), expected integer"
    ):
        load_challenge(write(tmp_path, text), toy_plugins)


def test_equal_keys_in_different_mappings_are_fine(tmp_path):
    path = write(
        tmp_path,
        "a: {x: 1, '1': 2, 1: 3}\nb: {x: 1}\nc: &c {x: 1}\nd: {<<: *c, x: 2}\n",
    )
    with pytest.raises(ChallengeError) as info:
        load_challenge(path)
    assert "given twice" not in str(info.value)  # only the schema complains


def test_non_finite_limit_is_refused(tmp_path):
    text = TOY_CHALLENGE.replace("wall_seconds: 20", "wall_seconds: .nan")
    with pytest.raises(ChallengeError, match="limits.wall_seconds: found nan"):
        load_challenge(write(tmp_path, text))


def test_limit_beyond_maximum_is_refused(tmp_path):
    text = TOY_CHALLENGE.replace("memory_mb: 1024", "memory_mb: 99999999999999")
    with pytest.raises(ChallengeError, match="limits.memory_mb"):
        load_challenge(write(tmp_path, text))


def test_device_is_not_a_challenge_file():
    with pytest.raises(ChallengeError, match="not a regular file"):
        load_challenge(Path("/dev/zero"))


def test_protocol_options_are_checked_against_the_kind(tmp_path, toy_plugins):
    text = TOY_CHALLENGE.replace(
        "options: {load: if-defined, output_shape: []}",
        "options: {load: sometimes, output_shape: [], transpos: [1, 0]}",
    )
    with pytest.raises(ChallengeError) as info:
        load_challenge(write(tmp_path, text), toy_plugins)
    message = str(info.value)
    assert (
        "submission.protocol.options.load: found 'sometimes', expected one of: "
        "'always', 'if-defined', 'never'" in message
    )
    assert "unexpected key(s) 'transpos'" in message
    assert "Did you mean 'transpose'?" in message


def test_a_typo_in_protocol_options_lists_what_is_allowed(tmp_path, toy_plugins):
    text = TOY_CHALLENGE.replace("output_shape: []}", "output_shape: [], lod: never}")
    with pytest.raises(ChallengeError) as info:
        load_challenge(write(tmp_path, text), toy_plugins)
    message = str(info.value)
    assert "submission.protocol.options: unexpected key(s) 'lod'; allowed:" in message
    assert "Did you mean 'load'?" in message
