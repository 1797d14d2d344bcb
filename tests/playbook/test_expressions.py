"""Expressions: native values for lone {{ }}, strings otherwise, strict undefined, lazy templated vars."""

from __future__ import annotations

import pytest

from diag.playbook.language.expressions import ExpressionError, Lazy, Templar


@pytest.fixture(scope="module")
def templar() -> Templar:
    return Templar()


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ 5 }}", 5),
        ("{{ 2.5 * 2 }}", 5.0),
        ("{{ [1, 2] }}", [1, 2]),
        ("{{ {'a': 1} }}", {"a": 1}),
        ("{{ none }}", None),
        ("  {{ n }}  ", 7),
        ("{{ n }} pages", "7 pages"),
        ("{{ n }}{{ n }}", "77"),
    ],
)
def test_a_lone_expression_keeps_its_type_and_anything_else_is_a_string(templar, template, expected):
    assert templar.render(template, {"n": 7}) == expected


def test_render_recurses_into_lists_and_mappings(templar):
    assert templar.render({"a": ["{{ n + 1 }}", "x"]}, {"n": 1}) == {"a": [2, "x"]}


def test_undefined_variable_is_an_error_quoting_the_expression(templar):
    with pytest.raises(ExpressionError) as caught:
        templar.evaluate("s.rates.majflt_per_s > limit", {"s": {"rates": {"majflt_per_s": 1}}})
    assert caught.value.expression == "s.rates.majflt_per_s > limit"
    assert "'limit' is undefined" in caught.value.detail


def test_missing_attribute_is_an_error_not_a_silent_none(templar):
    with pytest.raises(ExpressionError, match="no attribute 'nope'"):
        templar.render("{{ s.nope }}", {"s": {}})


def test_runtime_error_in_an_expression_is_an_expression_error(templar):
    with pytest.raises(ExpressionError, match="ZeroDivisionError"):
        templar.evaluate("1 / n", {"n": 0})


def test_syntax_error_carries_jinjas_message(templar):
    with pytest.raises(ExpressionError) as caught:
        templar.check_expression("a >")
    assert caught.value.expression == "a >"
    assert "unexpected" in caught.value.detail


def test_templated_variables_are_rendered_when_read(templar):
    variables = {"base": 10, "limit": Lazy("{{ base * 2 }}")}
    assert templar.evaluate("limit", variables) == 20
    assert templar.render("limit={{ limit }}", variables) == "limit=20"


def test_a_variable_defined_through_itself_is_reported_not_a_recursion_crash(templar):
    with pytest.raises(ExpressionError, match="recursive variable definition: a -> b -> a"):
        templar.evaluate("a", {"a": Lazy("{{ b }}"), "b": Lazy("{{ a }}")})


def test_quote_filter_makes_values_safe_for_a_shell_command(templar):
    assert templar.render("cat {{ f | quote }}", {"f": "a b; rm -rf /"}) == "cat 'a b; rm -rf /'"


def test_sandbox_refuses_access_to_python_internals(templar):
    with pytest.raises(ExpressionError):
        templar.evaluate("x.__class__.__mro__[1].__subclasses__()", {"x": "s"})


def test_a_value_reused_across_hosts_follows_each_hosts_values_and_types():
    templar = Templar()  # its own: the memo of values is per Templar
    for n, expected in [(1, "1"), (1.0, "1.0"), (True, "True"), (0.0, "0.0"), (-0.0, "-0.0"), (1, "1")]:
        assert templar.render("{{ n }}", {"n": n}) == n
        assert templar.render("n={{ n }}", {"n": n}) == f"n={expected}"
    assert templar.render("{{ n | default(0) }}", {}) == 0
    assert templar.render("{{ n | default(0) }}", {"n": 3}) == 3
    assert templar.render("{{ 'x' ~ n }}", {"n": "y"}) == "xy"


def test_a_templated_variable_is_read_again_when_what_it_reads_changes():
    templar = Templar()
    for base in (10, 20, 10):
        assert templar.evaluate("limit", {"base": base, "limit": Lazy("{{ base * 2 }}")}) == base * 2


def test_a_data_value_is_never_reused_from_an_earlier_host():
    templar = Templar()
    for majflt in (1, 2, 3):
        assert templar.evaluate("s.rates.majflt_per_s", {"s": {"rates": {"majflt_per_s": majflt}}}) == majflt
    first = templar.render("{{ [n] }}", {"n": 1})
    first.append(2)  # a list is the caller's to change: the next host gets a fresh one
    assert templar.render("{{ [n] }}", {"n": 1}) == [1]


def test_random_values_and_errors_are_never_reused():
    templar = Templar()
    drawn = {templar.render("{{ range(1000) | random }}", {}) for _ in range(20)}
    assert len(drawn) > 1
    for _ in range(2):
        with pytest.raises(ExpressionError, match="'limit' is undefined"):
            templar.render("{{ limit }}", {})
        with pytest.raises(ExpressionError, match="ZeroDivisionError"):
            templar.evaluate("1 / n", {"n": 0})


def test_a_syntax_error_in_a_lone_expression_quotes_the_expression():
    with pytest.raises(ExpressionError) as caught:
        Templar().render("{{ 1 + }}", {})
    assert caught.value.expression == "1 +"


def test_a_dotted_lookup_reads_what_jinja_reads_and_fails_as_jinja_does():
    templar = Templar()
    s = {"rates": {"majflt_per_s": 2.5, "items": 1}, "processes": [{"pid": 1}]}
    variables = {"s": s, "n": None, "lazy": Lazy("{{ s }}")}
    assert templar.render("{{ s.rates.majflt_per_s }}", variables) == 2.5
    assert templar.evaluate("s.processes", variables) is s["processes"]
    assert templar.evaluate("n", variables) is None
    assert templar.evaluate("lazy.rates.majflt_per_s", variables) == 2.5
    assert callable(templar.evaluate("s.rates.items", variables))  # as in Jinja: the method, not the key
    assert templar.evaluate("none", {"none": 5}) is None  # a literal, not a variable
    with pytest.raises(ExpressionError, match="has no attribute 'nope'"):
        templar.evaluate("s.rates.nope", variables)
    with pytest.raises(ExpressionError, match="'missing' is undefined"):
        templar.render("{{ missing.x }}", variables)
    with pytest.raises(ExpressionError):
        templar.evaluate("s.__class__", variables)


def test_a_template_with_its_own_variables_follows_the_variables_it_reads():
    templar = Templar()
    for n in (1, 2, 1):
        assert templar.render("{% set x = n * 10 %}{{ x }}", {"n": n}) == str(n * 10)
        assert templar.render("{% for i in range(n) %}{{ i }}{% endfor %}", {"n": n}) == "01"[:n]


def test_an_attribute_inside_an_expression_reads_a_dict_key_as_the_sandbox_does():
    templar = Templar()
    s = {"rates": {"majflt_per_s": 2.5, "items": 1, "_hidden": 3}, "processes": [{"pid": 1}, {"pid": 2}]}
    variables = {"s": s}
    # not lone dotted lookups, so Jinja's getattr reads them (the dict fast path of _Environment)
    assert templar.render("{{ s.rates.majflt_per_s * 2 }}", variables) == 5.0
    assert templar.render("{{ s.processes | map(attribute='pid') | list }}", variables) == [1, 2]
    assert callable(templar.evaluate("(s.rates).items", variables))  # the method, not the key
    assert templar.evaluate("(s.rates)._hidden", variables) == 3  # a key, as getattr's fallback gives it
    assert templar.render("{{ s.rates.majflt_per_s if s.rates.nope is defined else 0 }}", variables) == 0
    with pytest.raises(ExpressionError, match="has no attribute 'nope'"):
        templar.render("{{ s.rates.nope + 1 }}", variables)
    with pytest.raises(ExpressionError):
        templar.render("{{ (s.rates).__class__.__mro__ }}", variables)
