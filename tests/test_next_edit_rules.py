"""The deterministic next-edit rules beside the substitution: a line's change repeated on its
parallel lines (nextedit/line_repeat.py), and a function's call sites following its changed
parameter list (nextedit/call_sites.py). Pure functions: no model, no server."""

from __future__ import annotations

from spark_lsp.nextedit.call_sites import MAX_CALL_LINES, update_call_sites
from spark_lsp.nextedit.history import MAX_EDIT_CHARS
from spark_lsp.nextedit.line_repeat import MAX_LINE_CHARS, repeat_line_edit
from tests.timing import best_time


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _repeat(text: str, line: int, new: str) -> list[str] | None:
    """``repeat_line_edit`` after line ``line`` of ``text`` became ``new``, the whole document
    the region."""
    lines = _lines(text)
    old, lines[line] = lines[line], new
    return repeat_line_edit(lines, (0, len(lines)), (line, line + 1), old, new)


def _calls(text: str, line: int, new: str) -> tuple[int, int, list[str]] | None:
    """``update_call_sites`` after line ``line`` of ``text`` became ``new``."""
    lines = _lines(text)
    old, lines[line] = lines[line], new
    return update_call_sites(lines, (line, line + 1), old, new)


def _applied(text: str, line: int, new: str) -> str:
    """The document after the edit and the call sites' update."""
    lines = _lines(text)
    lines[line] = new
    found = _calls(text, line, new)
    assert found is not None
    first, last, rewritten = found
    return "".join([*lines[:first], *rewritten, *lines[last:]])


# -- line_repeat: the change repeated on the parallel lines --------------------------------

STRIPPED = """\
name = sys.stdin.readline()
city = sys.stdin.readline()
print(name, city)
email = sys.stdin.readline()
"""


def test_an_appended_call_is_repeated_on_the_parallel_lines() -> None:
    found = _repeat(STRIPPED, 0, "name = sys.stdin.readline().strip()\n")
    assert found == [
        "name = sys.stdin.readline().strip()\n",
        "city = sys.stdin.readline().strip()\n",
        "print(name, city)\n",  # another shape: left alone
        "email = sys.stdin.readline().strip()\n",
    ]


def test_lines_that_differ_in_more_than_one_slot_are_not_parallel() -> None:
    # Measured: allowing two differing slots cost precision (84 % against 88 %).
    text = 'name = input("name? ")\ncity = input("city? ")\n'
    assert _repeat(text, 0, 'name = input("name? ").strip()\n') is None


def test_a_rewritten_type_is_repeated_where_the_lines_share_it() -> None:
    text = """\
def connect(
    host: t.Optional[str] = None,
    port: t.Optional[int] = None,
    user: t.Optional[str] = None,
) -> None:
"""
    found = _repeat(text, 1, "    host: str | None = None,\n")
    assert found is not None
    assert found[2] == "    port: t.Optional[int] = None,\n"  # its own type differs
    assert found[3] == "    user: str | None = None,\n"


def test_an_added_keyword_argument_is_repeated_on_the_calls_that_share_the_argument() -> None:
    text = """\
parser.add_argument("--width", type=int)
parser.add_argument("--height", type=int)
parser.add_argument("--title", type=str)
"""
    found = _repeat(text, 0, 'parser.add_argument("--width", type=int, required=True)\n')
    assert found == [
        'parser.add_argument("--width", type=int, required=True)\n',
        'parser.add_argument("--height", type=int, required=True)\n',
        # `type=str` is this line's own: a change written next to it is no repetition.
        'parser.add_argument("--title", type=str)\n',
    ]


def test_a_restructured_statement_is_repeated_with_each_line_keeping_its_values() -> None:
    text = """\
    strict_eq(stream.read(), b"1")
    strict_eq(stream.readline(), b"1")
"""
    found = _repeat(text, 0, '    assert stream.read() == b"1"\n')
    assert found == ['    assert stream.read() == b"1"\n', '    assert stream.readline() == b"1"\n']


def test_an_edit_of_two_lines_changed_alike_is_repeated_on_a_third() -> None:
    lines = _lines("a = self.load().strip()\nb = self.load().strip()\nc = self.load()\n")
    old = "a = self.load()\nb = self.load()\n"
    found = repeat_line_edit(lines, (0, 3), (0, 2), old, "".join(lines[:2]))
    assert found is not None
    assert found[2] == "c = self.load().strip()\n"


def test_an_edit_whose_rule_would_change_a_line_the_user_left_is_no_repetition() -> None:
    lines = _lines("a = self.load().strip()\nb = self.load()\nc = self.load()\n")
    old = "a = self.load()\nb = self.load()\n"
    assert repeat_line_edit(lines, (0, 3), (0, 2), old, "".join(lines[:2])) is None


def test_changes_of_a_lines_own_name_or_value_are_not_repeated() -> None:
    # Measured on histories: the neighbours got these in a minority of cases.
    fields = "    self.x = x\n    self.y = y\n    self.z = z\n"
    assert _repeat(fields, 0, "    self._x = x\n") is None
    annotated = "def f(\n    name,\n    size,\n):\n"
    assert _repeat(annotated, 1, "    name: str,\n") is None
    wrapped = '    "a": a,\n    "b": b,\n'
    assert _repeat(wrapped, 0, '    "a": str(a),\n') is None
    table = '    ("a", 1, True),\n    ("b", 2, True),\n'
    assert _repeat(table, 0, '    ("a", 1, False),\n') is None


def test_unrelated_lines_are_left_alone() -> None:
    text = "total = compute(items, 1)\nif total:\n    return total\nlog.info('done')\n"
    assert _repeat(text, 0, "total = compute(items, 1, strict=True)\n") is None


def test_a_line_already_changed_is_left_alone() -> None:
    text = 'a = input("a").strip()\nb = input("b")\nc = input("c").strip()\n'
    found = _repeat(text, 1, 'b = input("b").strip()\n')
    assert found is None  # its neighbours have the new shape already


def test_lines_spaced_otherwise_are_left_alone() -> None:
    text = '    "Hide":  flag(True),\n    "Suggest":   flag(True),\n    "Show":  flag(True),\n'
    found = _repeat(text, 0, '    "Hide":  not flag(True),\n')
    assert found is not None
    assert found[1] == '    "Suggest":   flag(True),\n'  # aligned otherwise where it changes
    assert found[2] == '    "Show":  not flag(True),\n'


def test_comments_and_docstrings_are_left_alone() -> None:
    comments = "x = f(a)  # first\ny = f(b)  # second\n"
    assert _repeat(comments, 0, "x = f(a)  # the first\n") is None
    docstring = '"""Usage:\nvalue = compute(a, 1)\n"""\nvalue = compute(b, 1)\n'
    found = _repeat(docstring, 3, "value = compute(b, 1, fast=True)\n")
    assert found is None  # the one parallel line is prose
    code = 'value = compute(a, 1)\n"""\nvalue = compute(b, 1)\n"""\nvalue = compute(c, 1)\n'
    found = _repeat(code, 0, "value = compute(a, 1, fast=True)\n")
    assert found is not None
    assert found[2] == "value = compute(b, 1)\n"
    assert found[4] == "value = compute(c, 1, fast=True)\n"


def test_a_rename_is_left_to_the_substitution() -> None:
    text = "total = count + 1\nprint(count)\nother = count + 1\n"
    assert _repeat(text, 0, "total = amount + 1\n") is None


def test_short_common_lines_are_no_pattern() -> None:
    text = "f(\n    a,\n)\ng(\n    b,\n)\n"
    assert _repeat(text, 2, ") as request:\n") is None


def test_line_repeat_is_bounded() -> None:
    # A huge document: only the region and a few thousand lines before it are read, so it
    # costs about what a small one does (compared, not timed against the clock).
    def edited(count: int) -> list[str]:
        lines = _lines('value = load("x")\n' * count)
        lines[count // 2] = 'value = load("x").strip()\n'
        return lines

    def repeat(lines: list[str]) -> list[str] | None:
        middle = len(lines) // 2
        return repeat_line_edit(
            lines, (middle - 10, middle + 10), (middle, middle + 1), 'value = load("x")\n',
            lines[middle],
        )  # fmt: skip

    huge, small = edited(200_000), edited(1_000)
    found = repeat(huge)
    assert found is not None and all(line.endswith(".strip()\n") for line in found)
    assert best_time(lambda: repeat(huge)) < 10 * best_time(lambda: repeat(small))
    # A long line is not read; an edit past the cap is not compared.
    long_line = "x = f(" + "a, " * (MAX_LINE_CHARS // 3) + "a)\n"
    short_line = "x = f(a, a)\n"
    assert _repeat(long_line * 3, 0, long_line.replace("f(", "g(")) is None
    long_time = best_time(lambda: _repeat(long_line * 3, 0, long_line.replace("f(", "g(")))
    short_time = best_time(lambda: _repeat(short_line * 3, 0, short_line.replace("f(", "g(")))
    assert long_time < 50 * short_time
    many = "a = f(x)\n" * (MAX_EDIT_CHARS // 9)
    assert repeat_line_edit(_lines(many), (0, 10), (0, 10), many, many.replace("f", "g")) is None


# -- call_sites: the calls follow the parameter list ---------------------------------------

GREETINGS = """\
def greet(name, loud=False):
    return name.upper() if loud else name


greet("ada", loud=True)
message = greet(name="bob", loud=False) + greet("eve")
print("greet(loud=1)")  # greet(loud=2)
"""


def test_a_renamed_parameter_renames_the_keyword_arguments() -> None:
    found = _calls(GREETINGS, 0, "def greet(name, shout=False):\n")
    assert found == (
        4,
        6,
        [
            'greet("ada", shout=True)\n',
            'message = greet(name="bob", shout=False) + greet("eve")\n',
        ],
    )


def test_a_removed_parameter_loses_its_argument_by_keyword_or_by_position() -> None:
    text = """\
def area(width, height, scale=1):
    return width * height * scale


a = area(2, 3)
b = area(2, 3, scale=2)
c = area(width=2, height=3)
d = area(*sizes)
"""
    assert _applied(text, 0, "def area(width, scale=1):\n").splitlines()[4:] == [
        "a = area(2)",
        "b = area(2, scale=2)",
        "c = area(width=2)",
        "d = area(*sizes)",  # unpacked: the positions are not known
    ]


def test_a_method_call_does_not_pass_self() -> None:
    text = """\
class Shape:
    def resize(self, width, height):
        pass

    def grow(self):
        self.resize(2, 3)
        other.resize(2, 3)
"""
    found = _calls(text, 1, "    def resize(self, height):\n")
    assert found == (5, 6, ["        self.resize(3)\n"])  # `other` may be another class


def test_an_added_parameter_with_a_default_needs_no_call_changed() -> None:
    assert _calls(GREETINGS, 0, "def greet(name, loud=False, times=1):\n") is None


def test_an_added_parameter_is_passed_where_the_caller_has_one_of_its_name() -> None:
    text = """\
def render(template):
    return template


def page(template, ctx):
    return render(template)


def other(template):
    return render(template)
"""
    found = _calls(text, 0, "def render(template, ctx):\n")
    assert found == (5, 6, ["    return render(template, ctx)\n"])


def test_go_rust_and_javascript_calls_follow_a_removed_parameter() -> None:
    go = "func add(a int, b int, c int) int {\n\treturn a + b\n}\n\nx := add(1, 2, 3)\n"
    assert _applied(go, 0, "func add(a int, b int) int {\n").endswith("x := add(1, 2)\n")
    rust = "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n\nlet x = add(1, 2);\n"
    assert _applied(rust, 0, "fn add(b: i32) -> i32 {\n").endswith("let x = add(2);\n")
    js = "function add(a, b) {\n  return a + b;\n}\n\nconst x = add(1, 2);\n"
    assert _applied(js, 0, "function add(a) {\n").endswith("const x = add(1);\n")


def test_calls_in_strings_comments_and_docstrings_are_left_alone() -> None:
    text = '''\
def send(data, retries):
    """Call send(data, retries=3) to retry."""


send(b"x", retries=3)  # send(b"y", retries=4)
log("send(b, retries=5)")
'''
    found = _calls(text, 0, "def send(data, attempts):\n")
    assert found == (4, 5, ['send(b"x", attempts=3)  # send(b"y", retries=4)\n'])


def test_uncertain_signature_changes_give_no_suggestion() -> None:
    text = "def fetch(url, timeout):\n    pass\n\n\nfetch(u, timeout=1)\n"
    # Two parameters changed, the type changed, the function became async: more than arguments.
    assert _calls(text, 0, "def fetch(link, limit):\n") is None
    typed = "def fetch(url, timeout: int):\n    pass\n\n\nfetch(u, timeout=1)\n"
    assert _calls(typed, 0, "def fetch(url, deadline: float):\n") is None
    assert _calls(text, 0, "async def fetch(url):\n") is None
    # A caller passing its own `timeout` on is renamed next, measured: left alone.
    passing = (
        "def fetch(url, timeout):\n    pass\n\n\ndef get(timeout):\n    fetch(u, timeout=timeout)\n"
    )
    assert _calls(passing, 0, "def fetch(url, deadline):\n") is None


def test_a_name_defined_twice_gets_no_suggestion() -> None:
    text = "def run(a, b):\n    pass\n\n\nrun(1, 2)\n\n\ndef run(a):\n    pass\n"
    assert _calls(text, 0, "def run(a):\n") is None


def test_a_nested_function_is_called_from_its_own_block_only() -> None:
    text = """\
def outer():
    def helper(a, b):
        return a

    helper(1, 2)


helper(1, 2)
"""
    assert _calls(text, 1, "    def helper(a):\n") == (4, 5, ["    helper(1)\n"])


def test_a_static_method_gets_no_suggestion() -> None:
    text = """\
class Loader:
    @staticmethod
    def load(path, mode):
        pass

    def run(self):
        load(1, 2)
"""
    # `load(` here is a module's function: the static method is called on its class.
    assert _calls(text, 2, "    def load(path):\n") is None


def test_a_definition_in_a_docstring_is_no_definition() -> None:
    text = '"""Example:\n\ndef area(w, h):\n    return w * h\n"""\narea(1, 2)\n'
    assert _calls(text, 2, "def area(w):\n") is None


def test_call_sites_are_bounded() -> None:
    # Call sites are looked for within ``max_lines`` lines of the definition.
    near, far = "total += area(2, 3)\n" * 10, "total += area(4, 5)\n" * 10
    text = "def area(width, height):\n    pass\n" + near + "pass\n" * 200_000 + far
    found = _calls(text, 0, "def area(width):\n")
    assert found == (2, 12, ["total += area(2)\n"] * 10)
    # Compared, not timed against the clock: past the scanned lines, more text costs nothing.
    shorter = "def area(width, height):\n    pass\n" + near + "pass\n" * 10_000 + far

    def scan(document: str) -> float:
        lines = _lines(document)
        old, lines[0] = lines[0], "def area(width):\n"
        return best_time(lambda: update_call_sites(lines, (0, 1), old, lines[0]))

    assert scan(text) < 5 * scan(shorter)
    # A name called on more lines than one suggestion should rewrite: none.
    crowded = "def area(width, height):\n    pass\n" + near * (MAX_CALL_LINES // 10 + 1)
    assert _calls(crowded, 0, "def area(width):\n") is None
    # A long line is not read; an edit past the cap is not compared.
    long_line = "x = area(" + "1 + " * MAX_LINE_CHARS + "1, 2)\n"
    long_text = "def area(width, height):\n    pass\n\n\n" + long_line
    assert _calls(long_text, 0, "def area(width):\n") is None
    huge_edit = "def area(width, height):\n" + "#" * MAX_EDIT_CHARS + "\n"
    lines = _lines(huge_edit + "area(1, 2)\n")
    assert update_call_sites(lines, (0, 2), huge_edit, huge_edit) is None


def test_the_span_keeps_the_lines_between_call_sites() -> None:
    text = "def f(a, b):\n    pass\n\n\nf(1, 2)\nunrelated()\nf(3, 4)\n"
    assert _calls(text, 0, "def f(a):\n") == (4, 7, ["f(1)\n", "unrelated()\n", "f(3)\n"])
