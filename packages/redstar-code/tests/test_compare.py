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
