"""Serialization of recovery snapshots.

Recovery stores every snapshot as text. A `Serde` says how objects become
text and back; `bytewax.recovery.RecoveryConfig` takes the `Serde`
*class* to use (its methods are static). The default,
`JsonPickleSerde`, writes readable JSON with type tags using the
`jsonpickle` package.

To store snapshots another way, subclass `Serde`:

>>> import json
>>> class JsonSerde(Serde):
...     @staticmethod
...     def ser(obj):
...         return json.dumps(obj)
...     @staticmethod
...     def de(s):
...         return json.loads(s)
>>> JsonSerde.de(JsonSerde.ser({"a": [1, 2]}))
{'a': [1, 2]}

"""

import base64
import pickle
from abc import ABC, abstractmethod
from typing import Any

__all__ = [
    "JsonPickleSerde",
    "Serde",
]


class Serde(ABC):
    """How to turn snapshot objects into strings and back.

    Implement both as static methods; `de(ser(obj))` must give back an
    equivalent object.

    """

    @staticmethod
    @abstractmethod
    def ser(obj: Any) -> str:
        """Serialize an object to a string."""
        ...

    @staticmethod
    @abstractmethod
    def de(s: str) -> Any:
        """Deserialize a string made by `ser`."""
        ...


_jsonpickle: Any = None


def _get_jsonpickle() -> Any:
    global _jsonpickle
    if _jsonpickle is None:
        import jsonpickle

        _jsonpickle = jsonpickle
    return _jsonpickle


class JsonPickleSerde(Serde):
    """Serialize with `jsonpickle`, keeping dict keys' types.

    Needs the `jsonpickle` package, which is imported on first use.

    """

    @staticmethod
    def ser(obj: Any) -> str:
        """Encode as jsonpickle JSON."""
        return _get_jsonpickle().encode(obj, keys=True)

    @staticmethod
    def de(s: str) -> Any:
        """Decode jsonpickle JSON."""
        return _get_jsonpickle().decode(s, keys=True)


class _BuiltinSerde(Serde):
    """Fallback needing only the standard library: base64 of a pickle.

    The runtime uses it for snapshots when `jsonpickle` is not installed.

    >>> _BuiltinSerde.de(_BuiltinSerde.ser({"a": (1, 2)}))
    {'a': (1, 2)}

    """

    @staticmethod
    def ser(obj: Any) -> str:
        """Pickle, then base64-encode as ASCII text."""
        return base64.b64encode(pickle.dumps(obj, protocol=4)).decode("ascii")

    @staticmethod
    def de(s: str) -> Any:
        """Reverse of `ser`."""
        return pickle.loads(base64.b64decode(s))  # noqa: S301
