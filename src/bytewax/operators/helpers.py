"""Small functions that are handy as operator arguments."""

from typing import Callable, Dict, TypeVar

__all__ = ["map_dict_value"]

K = TypeVar("K")
V = TypeVar("V")


def map_dict_value(key: K, mapper: Callable[[V], V]) -> Callable[[Dict[K, V]], Dict[K, V]]:
    """Make a function that transforms one entry of a dict, in place.

    The returned function replaces `d[key]` with `mapper(d[key])` and
    returns the same dict. Pass it to `bytewax.operators.map` (or
    `map_value`) to change one field of dict items.

    >>> bump = map_dict_value("n", lambda n: n + 1)
    >>> bump({"n": 1, "other": "x"})
    {'n': 2, 'other': 'x'}

    """

    def shim_map_dict_value(obj: Dict[K, V]) -> Dict[K, V]:
        obj[key] = mapper(obj[key])
        return obj

    return shim_map_dict_value
