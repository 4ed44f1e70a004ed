"""Rubric loading: valid files load into typed objects; each error names file, place and reason."""

from pathlib import Path

import pytest

from grader.rubric import RubricError, load_rubric, parse_duration, parse_size

ROOT = Path(__file__).resolve().parents[1]

SUITE = '''
import pytest

def test_one(student):
    pass

@pytest.mark.parametrize("n", [1, 2])
def test_two(student, n):
    pass

class TestGroup:
    def test_three(self, student):
        pass
'''

GOOD = '''
[assignment]
id = "hwx"
title = "X"

[[problems]]
id = "q1"
files = ["a.py"]
suite = "suite.py"
timeout = "2m"
memory = "512MiB"

  [[problems.items]]
  id = "q1-one"
  test = "test_one"
  points = 2

  [[problems.items]]
  id = "q1-three"
  test = "test_three"
  points = 1.5
  visibility = "hidden"

[[problems]]
id = "q2"

  [[problems.items]]
  id = "q2a"
  kind = "manual"
  points = 5
  deductions = [{ code = "c", points = 2, comment = "why" }]
'''


def write(tmp_path, text, suite=SUITE):
    (tmp_path / "suite.py").write_text(suite)
    path = tmp_path / "r.toml"
    path.write_text(text)
    return path


def test_valid_rubric_loads_into_typed_objects(tmp_path):
    rubric = load_rubric(write(tmp_path, GOOD))
    q1, q2 = rubric.problems
    assert (q1.timeout, q1.memory) == (120.0, 512 * 2**20)
    assert [i.points for i in q1.items] == [2.0, 1.5]
    assert q1.items[1].visibility == "hidden" and q1.autograded
    assert not q2.autograded and q2.items[0].deductions[0].points == 2.0
    assert rubric.item("q2a").kind == "manual"


def test_the_hw1_rubric_loads():
    rubric = load_rubric(ROOT / "rubrics" / "hw1.toml")
    assert rubric.id == "hw1"
    assert {"p1", "p2", "p3", "p5"} <= {p.id for p in rubric.problems}


@pytest.mark.parametrize(
    "old,new,reason",
    [
        ('test = "test_one"', 'test = "test_nope"', "item q1-one: unknown test 'test_nope'"),
        ('id = "q1-three"', 'id = "q1-one"', "duplicate item id 'q1-one'"),
        ("points = 2\n", "points = -1\n", "item q1-one: points must be a number >= 0, got -1"),
        ("points = 2\n", 'points = "two"\n', "item q1-one: points must be a number, got 'two'"),
        ("points = 2\n", "points = nan\n", "item q1-one: points must be a finite number, got nan"),
        ("points = 2\n", "points = inf\n", "item q1-one: points must be a finite number, got inf"),
        ('suite = "suite.py"', 'suite = "missing.py"', "problem q1: suite file not found: missing.py"),
        ('timeout = "2m"', 'timeout = "soon"', "problem q1: limit does not parse"),
        ('memory = "512MiB"', 'memory = "lots"', "problem q1: limit does not parse"),
        ('visibility = "hidden"', 'visibility = "secret"', "visibility must be 'public' or 'hidden'"),
        ('kind = "manual"', 'kind = "oral"', "item q2a: kind must be 'test' or 'manual'"),
        ("title = \"X\"", "title = \"X\"\ncolour = 1", "[assignment]: unknown key(s) colour"),
        ("points = 5", "points = 1", "deduction c takes 2 points but the item is worth 1"),
        ('files = ["a.py"]\n', "", "must list the student files"),
    ],
)
def test_each_rubric_error_names_file_place_and_reason(tmp_path, old, new, reason):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(RubricError) as info:
        load_rubric(path)
    message = str(info.value)
    assert message.startswith(str(path) + ": ")
    assert reason in message


def test_invalid_toml_and_missing_file(tmp_path):
    with pytest.raises(RubricError, match="not valid TOML"):
        load_rubric(write(tmp_path, "[assignment\nid="))
    with pytest.raises(RubricError, match="rubric file not found"):
        load_rubric(tmp_path / "nope.toml")


def test_a_suite_that_does_not_parse_is_reported(tmp_path):
    with pytest.raises(RubricError, match="suite suite.py does not parse: line 1"):
        load_rubric(write(tmp_path, GOOD, suite="def test_one(:\n"))


@pytest.mark.parametrize("text,seconds", [("30s", 30), ("2m", 120), ("500ms", 0.5), (7, 7.0), ("1.5 min", 90)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text,size", [("2GiB", 2 * 2**30), ("512MB", 512 * 10**6), ("1g", 2**30), (4096, 4096)])
def test_sizes(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("bad", ["-1s", "0", "fast", True, None])
def test_bad_durations(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


# -- requires ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "requires,reason",
    [
        ('["q1-nope"]', "problem q1, item q1-three: requires unknown item 'q1-nope' (items of this problem: q1-one, q1-three)"),
        ('["q2a"]', "item q1-three: requires unknown item 'q2a'"),  # another problem's item
        ('["q1-three"]', "item q1-three: requires forms a cycle: q1-three → q1-three"),
        ('["q1-one", "q1-one"]', "item q1-three: requires lists an item twice"),
        ('"q1-one"', "item q1-three: requires must be a list of strings"),
    ],
)
def test_requires_is_validated_at_load(tmp_path, requires, reason):
    text = GOOD.replace('visibility = "hidden"', f'visibility = "hidden"\n  requires = {requires}')
    with pytest.raises(RubricError) as err:
        load_rubric(write(tmp_path, text))
    assert str(err.value).startswith(str(tmp_path / "r.toml") + ": ")
    assert reason in str(err.value)


def test_requires_cycle_through_two_items_is_refused(tmp_path):
    text = GOOD.replace('  test = "test_one"\n', '  test = "test_one"\n  requires = ["q1-three"]\n').replace(
        'visibility = "hidden"', 'visibility = "hidden"\n  requires = ["q1-one"]'
    )
    with pytest.raises(RubricError, match="requires forms a cycle: q1-one → q1-three → q1-one"):
        load_rubric(write(tmp_path, text))


def test_requires_policy_must_be_known_and_needs_requires(tmp_path):
    bad = GOOD.replace('visibility = "hidden"', 'visibility = "hidden"\n  requires = ["q1-one"]\n  requires_policy = "half"')
    with pytest.raises(RubricError, match="item q1-three: requires_policy must be 'pass' or 'scale', got 'half'"):
        load_rubric(write(tmp_path, bad))
    alone = GOOD.replace('visibility = "hidden"', 'visibility = "hidden"\n  requires_policy = "scale"')
    with pytest.raises(RubricError, match="item q1-three: requires_policy is set but requires is empty"):
        load_rubric(write(tmp_path, alone))


def test_requires_loads_and_hw1_makes_the_choice_explicit(tmp_path):
    text = GOOD.replace('visibility = "hidden"', 'visibility = "hidden"\n  requires = ["q1-one"]\n  requires_policy = "scale"')
    item = load_rubric(write(tmp_path, text)).item("q1-three")
    assert (item.requires, item.requires_policy) == (("q1-one",), "scale")
    hw1 = load_rubric(ROOT / "rubrics" / "hw1.toml")
    for iid, policy in (("p5-no-dense", "scale"), ("p5-adjoint", "pass"), ("p5-shapes", "pass")):
        assert hw1.item(iid).requires == ("p5-forward", "p5-transpose")
        assert hw1.item(iid).requires_policy == policy
    raw = (ROOT / "rubrics" / "hw1.toml").read_text(encoding="utf-8")
    assert raw.count('requires_policy = "') == 3  # written out, so a TA sees and can change it


@pytest.mark.parametrize("zero", ["0s", "0m", 0, -3])
def test_a_zero_or_negative_time_limit_is_said_to_be_one(zero):
    with pytest.raises(ValueError, match="a time limit must be more than zero"):
        parse_duration(zero)
