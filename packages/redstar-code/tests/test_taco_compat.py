from redstar_code import taco_compat
from redstar_code.taco_compat import return_matches, stdout_matches


def test_stdin_program_inserts_prelude_before_first_statement():
    program = taco_compat.stdin_program("import os\nfrom math import *\nx = 1\nprint(x)")
    head, _, rest = program.partition(taco_compat.PRELUDE)
    assert head == "import os\nfrom math import *\n"
    assert rest.startswith("\nstdin = sys.stdin\nstdout = sys.stdout\nx = 1\nprint(x)\n")


def test_wrapped_program_puts_statements_into_code_function():
    program = taco_compat.wrapped_program("import sys\nfrom math import *\nn = 1\nif n:\n    print(n)\n    return")
    assert program.startswith("import sys\n" + taco_compat.PRELUDE + "from math import *")
    assert "def code():\n\tn = 1\n\tif n:\n\t    print(n)\n\t    return\n" in program
    assert program.endswith("\ncode()\n")
    compile(program, "wrapped", "exec")  # the top-level return is legal once wrapped


def test_whole_output_is_stripped_but_line_ends_count():
    assert stdout_matches("  5\n\n", "5")
    assert not stdout_matches("10 \n2\n", "10\n2\n")  # strict mode accepts this one


def test_character_float_quirk():
    # each character of the output is read as a number and compared with the expected lines
    assert stdout_matches("12", "1\n2\n")
    assert not stdout_matches("12\n", "1\n2\n")


def test_token_set_quirk():
    # output tokens' character sets against the expected lines' token sets
    assert stdout_matches("b a", "a\nb")
    assert stdout_matches("ab", "a b")
    assert not stdout_matches("ab c", "a b c")


def test_return_value_rules():
    assert return_matches([1, 2], [1, 2])
    assert return_matches(1, [1, 2])  # any non-empty list: its first element is accepted
    assert return_matches({"1": "a"}, {"1": "a"})
    assert not return_matches([2, 1], [1, 2])
