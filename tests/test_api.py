"""The functions of ``tinylens.__all__`` as a notebook shows them: typed, with an example."""

from __future__ import annotations

import inspect

import pytest

import tinylens

FUNCTIONS = [name for name in tinylens.__all__ if inspect.isfunction(getattr(tinylens, name))]


def test_the_api_has_functions():
    assert set(FUNCTIONS) == {"fit", "load", "read_result", "set_precision"}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_each_function_is_typed_and_its_docstring_names_its_arguments_with_an_example(name):
    """tinylens.load had no type hints (an editor's or a notebook's help showed none) and
    tinylens.fit's docstring no example; each argument of each function is typed and named in
    its docstring, as its return is typed, and the docstring shows a call."""
    function = getattr(tinylens, name)
    signature = inspect.signature(function)
    untyped = [p for p, parameter in signature.parameters.items() if parameter.annotation is inspect.Parameter.empty]
    assert untyped == [] and signature.return_annotation is not inspect.Signature.empty, (name, untyped)
    doc = inspect.getdoc(function)
    assert [p for p in signature.parameters if f"``{p}``" not in doc] == []
    assert f">>> tinylens.{name}(" in doc or f"= tinylens.{name}(" in doc


@pytest.mark.parametrize("name", FUNCTIONS)
def test_each_functions_help_shows_its_docstring_as_one_indented_block(name):
    """A line of tinylens.fit's docstring (on truth_errors) started at the left margin, so that
    ``help(tinylens.fit)`` showed it alone at the margin and every other line indented by four: each
    line after the first is indented as the function's body is."""
    lines = getattr(tinylens, name).__doc__.splitlines()[1:]
    assert [line for line in lines if line.strip() and not line.startswith("    ")] == []
    assert not any(line.startswith("    ") for line in inspect.getdoc(getattr(tinylens, name)).splitlines())


def test_load_is_typed_as_the_function_it_calls():
    """tinylens.load passes its arguments on to tinylens.problem.load: they take the same types
    (as typing resolves them: tinylens.load names Config and Problem by their modules)."""
    import typing

    from tinylens.problem import load

    ours, theirs = inspect.signature(tinylens.load).parameters, inspect.signature(load).parameters
    assert list(ours) == list(theirs)
    ours, theirs = typing.get_type_hints(tinylens.load), typing.get_type_hints(load)
    assert [ours[p] for p in ("config", "base_dir", "return")] == [theirs[p] for p in ("config", "base_dir", "return")]


def test_the_class_load_returns_is_exported():
    """tinylens.load returns a Problem, but tinylens.Problem was an AttributeError (an
    ``isinstance`` or an annotation had to name tinylens.problem.Problem); it is exported, the
    class load's return is typed as (imported when first named: see tests/test_startup.py)."""
    import typing

    from tinylens.problem import Problem

    assert "Problem" in tinylens.__all__ and tinylens.Problem is Problem
    assert typing.get_type_hints(tinylens.load)["return"] is tinylens.Problem
    from tinylens import Problem as imported

    assert imported is Problem


def test_each_error_a_user_is_told_to_catch_is_exported():
    """tinylens.fit documents an OutputError (an output folder that cannot be written, a full
    disk) and a Problem raises a ParameterError (a parameter vector of the wrong shape), but
    neither was exported beside ConfigError and DataError, so ``except tinylens.OutputError`` was an
    AttributeError; each error of user input (each TinyLensError of tinylens.errors) is exported."""
    import tinylens.errors

    errors = {name for name, value in vars(tinylens.errors).items()
              if inspect.isclass(value) and issubclass(value, tinylens.errors.TinyLensError)}
    assert {"ConfigError", "DataError", "OutputError", "ParameterError", "TinyLensError"} <= errors
    assert errors <= set(tinylens.__all__)
    assert all(getattr(tinylens, name) is getattr(tinylens.errors, name) for name in errors)


def test_the_convergence_warning_names_every_limit_that_stops_a_search():
    """ConvergenceWarning's docstring listed n_like_max, timeout and maxiter as the limits that
    stop a search before it converges and left out dynesty's maxcall; it names each method's
    limits as the warning's own text does (tinylens.fit.STOP_LIMITS)."""
    import re

    from tinylens.fitting.summary import STOP_LIMITS

    doc = " ".join(tinylens.ConvergenceWarning.__doc__.split())
    for method, limits in STOP_LIMITS.items():
        for limit in re.findall(r"\w+", limits.replace(" or ", " ")):
            assert f"``{limit}``" in doc, (method, limit)


def test_the_package_help_says_whose_warnings_its_warning_classes_are():
    """help(tinylens) began its paragraph on warnings with 'Their warnings have classes of their
    own', after a code block, so that 'their' referred to nothing it had named; the paragraph names
    the functions whose warnings they are, each a function of the package, and every warning class."""
    import re

    paragraphs = [" ".join(p.split()) for p in tinylens.__doc__.split("\n\n")]
    text = next(p for p in paragraphs if "classes of their own" in p)
    assert not text.startswith(("Their", "Its", "These"))
    named = re.match(r"The warnings of (\w+), (\w+) and (\w+) \(and of tinylens's other functions\) have classes", text)
    assert named is not None, text
    assert set(named.groups()) == {"load", "fit", "read_result"} <= set(tinylens.__all__)
    for name in ("DataWarning", "ConfigWarning", "CheckpointWarning", "ConvergenceWarning", "CapReachedWarning"):
        assert f":class:`{name}`" in text and issubclass(getattr(tinylens, name), Warning)
    assert 'warnings.simplefilter("ignore", tinylens.DataWarning)' in text


def test_each_warning_a_user_is_told_to_filter_is_exported():
    """tinylens.fit's docstring tells of a DataWarning (a truth that cannot be used), and load and
    fit warn with ConfigWarning and CheckpointWarning, but none was exported, so
    ``warnings.simplefilter("ignore", tinylens.DataWarning)`` was an AttributeError; each warning
    class of tinylens.errors is exported, and a filter by it catches the warning tinylens raises."""
    import warnings

    import tinylens.errors

    classes = {name for name, value in vars(tinylens.errors).items()
               if inspect.isclass(value) and issubclass(value, Warning)}
    assert classes == {"CapReachedWarning", "CheckpointWarning", "ConfigWarning", "ConvergenceWarning", "DataWarning"}
    assert classes <= set(tinylens.__all__)
    assert all(getattr(tinylens, name) is getattr(tinylens.errors, name) for name in classes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", tinylens.DataWarning)
        warnings.warn("pixels masked", tinylens.errors.DataWarning, stacklevel=1)  # filtered: no error
