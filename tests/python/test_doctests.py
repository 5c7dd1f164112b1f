"""Run the examples in the docstrings of every `bytewax` module."""

import doctest
import importlib
import pkgutil

import bytewax
import pytest


def _module_names():
    names = ["bytewax"]
    for info in pkgutil.walk_packages(bytewax.__path__, "bytewax."):
        names.append(info.name)
    return sorted(names)


def _collect():
    finder = doctest.DocTestFinder(exclude_empty=True)
    cases = []
    for name in _module_names():
        if name == "bytewax.bytewax":
            continue
        try:
            module = importlib.import_module(name)
        except ImportError as ex:
            if ".kafka" in name:
                # Optional dependencies of the Kafka connectors.
                cases.append(pytest.param(None, id=name, marks=pytest.mark.skip(reason=str(ex))))
                continue
            raise
        for test in finder.find(module, name):
            if test.examples:
                cases.append(pytest.param(test, id=test.name))
    return cases


@pytest.mark.parametrize("test", _collect())
def test_doctest(test):
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    failures = []
    runner.run(test, out=failures.append)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, "".join(failures)


def test_docstring_examples_are_collected():
    # Guards against the collector silently finding nothing (for example if
    # the embedded package stopped being walkable).
    collected = [case for case in _collect() if case.values[0] is not None]
    assert len(collected) >= 50, f"only {len(collected)} docstring examples found"
