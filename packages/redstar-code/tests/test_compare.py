from redstar_code.compare import output_lines, return_matches, stdout_matches


def test_line_ends_and_trailing_blank_lines_are_ignored():
    assert stdout_matches("1 2 \r\n3\t\n\n\n", "1 2\n3")
    assert output_lines("a  \n\nb\n\n") == ["a", "", "b"]


def test_leading_whitespace_middle_lines_and_order_count():
    assert not stdout_matches(" 1\n", "1\n")
    assert not stdout_matches("1\n\n2\n", "1\n2\n")
    assert not stdout_matches("2\n1\n", "1\n2\n")
    assert not stdout_matches("12\n", "1 2\n")


def test_float_tolerance_only_when_configured():
    assert not stdout_matches("0.3333333\n", "0.333333333\n")
    assert stdout_matches("0.3333333 x\n", "0.333333333 x\n", float_tolerance=1e-6)
    assert stdout_matches("1000000.1\n", "1000000.0\n", float_tolerance=1e-6)  # relative
    assert not stdout_matches("0.5 y\n", "0.5 x\n", float_tolerance=1e-6)
    assert not stdout_matches("1.0 2.0\n", "1.0\n", float_tolerance=1e-6)


def test_return_values_equal_or_wrapped_in_one_element_list():
    assert return_matches([1, 2], [1, 2])
    assert return_matches(3, [3])
    assert return_matches([1, 2], [[1, 2]])
    assert not return_matches(1, [1, 2])  # TACO would accept this; strict does not
    assert not return_matches("3", 3)


def test_return_values_with_tolerance():
    assert not return_matches([0.1 + 0.2], [[0.3]])
    assert return_matches([0.1 + 0.2, {"a": 1.0000001}], [0.3, {"a": 1}], float_tolerance=1e-6)
    # booleans are not numbers, even with a tolerance
    assert not return_matches(True, 1.0000001, float_tolerance=1e-6)


def test_only_spaces_tabs_and_carriage_returns_are_trimmed():
    """docs/code.md: trailing whitespace means spaces, tabs and \\r; any other character at the
    end of a line (vertical tab, form feed, other Unicode spaces) is output like any other."""
    assert stdout_matches("1 \t\r\n", "1\n")
    for character in ("\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0", "\u2003", "\u3000"):
        assert not stdout_matches(f"1{character}\n", "1\n"), repr(character)
        assert not stdout_matches("1\n", f"1{character}\n"), repr(character)
        assert not stdout_matches(f"1\n{character}\n", "1\n"), repr(character)  # not a blank line either
    assert output_lines("a\x0c\n\x0b\n") == ["a\x0c", "\x0b"]


def test_with_a_tolerance_only_ascii_decimal_numbers_are_numbers():
    for written in ("१", "１", "٣", "𝟏", "1_0", "0x1", "1__0"):
        assert not stdout_matches(f"{written}\n", "1\n", float_tolerance=0.5), written
        assert not stdout_matches("1\n", f"{written}\n", float_tolerance=0.5), written
    for written, expected in (("1", "1.0000001"), ("-2.5e3", "-2500"), ("+.5", "0.5"), ("3.", "3"), ("1E2", "100")):
        assert stdout_matches(f"{written}\n", f"{expected}\n", float_tolerance=1e-6), written
    # words that Python's float() reads are not numbers either: compared as text
    assert not stdout_matches("infinity\n", "inf\n", float_tolerance=1.0)
    assert stdout_matches("nan\n", "nan\n", float_tolerance=1.0)


def test_with_a_tolerance_tokens_are_separated_by_spaces_and_tabs_and_leading_whitespace_counts():
    assert stdout_matches("1.0000001  2\t3\n", "1 2 3\n", float_tolerance=1e-6)
    for separator in ("\x0b", "\x0c", "\xa0", "\u2003"):
        assert not stdout_matches(f"1{separator}2\n", "1 2\n", float_tolerance=1e-6), repr(separator)
    assert not stdout_matches(" 1.0\n", "1.0\n", float_tolerance=1e-6)
    assert not stdout_matches("1.0\n", "\t1.0\n", float_tolerance=1e-6)
    assert stdout_matches("\t1.0000001 x\n", "\t1.0 x\n", float_tolerance=1e-6)
