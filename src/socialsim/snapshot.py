"""A file format for model checkpoints that cannot run code: numpy arrays plus JSON, in one ``.npz`` file.

:meth:`socialsim.model.PlatformModel.checkpoint` gives a tree of plain values (numbers, strings, lists,
dicts), numpy arrays, and the model's state objects (:class:`~socialsim.state.State` and what it holds).
:func:`dumps` stores every array as an ``.npy`` member of a zip file and the rest of the tree as JSON in the
member ``tree.json``; :func:`loads` reads it back with ``numpy.load(..., allow_pickle=False)`` and
``json.loads``, and rebuilds objects only of the classes in :data:`CLASSES`. Nothing in the file can name a
function, a module or a class outside that list, so loading a crafted file cannot execute anything.

State objects are walked generically (every instance attribute, ``vars(obj)``), so an attribute added to
``State``, ``FollowGraph``, ``Population`` or any dataclass of ``socialsim.state`` later, and any dataclass
added to ``socialsim.state``, is stored without changing this module; an attribute of a type that cannot be stored fails loudly with :class:`SnapshotError` naming
it, rather than being dropped.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np

import dataclasses

from . import state as _state
from .graph import FollowGraph
from .population import Population

FORMAT = "socialsim-checkpoint/2"
TREE = "tree.json"

#: the only classes a checkpoint can rebuild, by name: the population, the follow graph, and every dataclass of
#: socialsim.state (State, Timeline, Reshares, StepCounts, and any added there later)
CLASSES: dict[str, type] = {cls.__name__: cls for cls in (
    Population, FollowGraph,
    *(obj for obj in vars(_state).values()
      if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == _state.__name__))}

#: attributes derived from the others and rebuilt on demand: stored as None
DERIVED = {"FollowGraph": ("_csr",)}


class SnapshotError(ValueError):
    """A value cannot be stored in, or a file cannot be read as, a checkpoint (one-line message)."""


def _encode(value: Any, where: str, arrays: dict[str, np.ndarray]) -> Any:
    """``value`` as JSON-able data; arrays go to ``arrays`` and are referred to by name."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)) and type(value) in (int, float):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject or value.dtype.fields is not None:
            raise SnapshotError(f"cannot store {where} in a checkpoint: arrays of dtype {value.dtype} are not allowed")
        name = f"a{len(arrays)}"
        arrays[name] = np.ascontiguousarray(value)
        return {"__array__": name}
    if isinstance(value, (np.bool_, np.integer, np.floating)):
        return {"__scalar__": value.dtype.str, "value": value.item()}
    if isinstance(value, (list, tuple)):
        items = [_encode(v, f"{where}[{i}]", arrays) for i, v in enumerate(value)]
        return items if isinstance(value, list) else {"__tuple__": items}
    if isinstance(value, (set, frozenset)):
        items = [_encode(v, f"{where}{{}}", arrays) for v in value]
        return {"__set__": items, "frozen": isinstance(value, frozenset)}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise SnapshotError(f"cannot store {where} in a checkpoint: a dict with keys that are not strings")
        if any(k.startswith("__") for k in value):  # would be read back as a tagged value
            raise SnapshotError(f"cannot store {where} in a checkpoint: a dict key starts with '__'")
        return {k: _encode(v, f"{where}.{k}", arrays) for k, v in value.items()}
    cls = type(value)
    if CLASSES.get(cls.__name__) is cls:
        derived = DERIVED.get(cls.__name__, ())
        attrs = {k: (None if k in derived else _encode(v, f"{where}.{k}", arrays)) for k, v in vars(value).items()}
        return {"__object__": cls.__name__, "attrs": attrs}
    raise SnapshotError(f"cannot store {where} in a checkpoint: values of type {cls.__module__}.{cls.__qualname__} "
                        f"are not supported (add the type to socialsim.snapshot)")


def _decode(data: Any, arrays: dict[str, np.ndarray], where: str) -> Any:
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [_decode(v, arrays, f"{where}[{i}]") for i, v in enumerate(data)]
    if not isinstance(data, dict):
        raise SnapshotError(f"{where} holds a value of unexpected type {type(data).__name__}")
    if "__array__" in data:
        name = data["__array__"]
        if name not in arrays:
            raise SnapshotError(f"{where} refers to a missing array {name!r}")
        return arrays[name]
    if "__scalar__" in data:
        dtype = np.dtype(str(data["__scalar__"]))
        if dtype.kind not in "biuf":
            raise SnapshotError(f"{where} holds a scalar of dtype {dtype}, which is not allowed")
        return dtype.type(data["value"])
    if "__tuple__" in data:
        return tuple(_decode(v, arrays, f"{where}[{i}]") for i, v in enumerate(data["__tuple__"]))
    if "__set__" in data:
        items = [_decode(v, arrays, f"{where}{{}}") for v in data["__set__"]]
        try:
            return frozenset(items) if data.get("frozen") else set(items)
        except TypeError:
            raise SnapshotError(f"{where} holds a set of values that cannot be in a set") from None
    if "__object__" in data:
        name = data["__object__"]
        cls = CLASSES.get(name) if isinstance(name, str) else None
        if cls is None:
            raise SnapshotError(f"{where} names the class {name!r}, which a checkpoint cannot hold")
        obj = cls.__new__(cls)  # no constructor runs: attributes are set from stored data only
        for key, value in (data.get("attrs") or {}).items():
            if not isinstance(key, str) or key.startswith("__"):
                raise SnapshotError(f"{where} has an attribute name {key!r}, which is not allowed")
            setattr(obj, key, _decode(value, arrays, f"{where}.{key}"))
        return obj
    if any(k.startswith("__") for k in data):
        raise SnapshotError(f"{where} holds an unknown tagged value ({', '.join(sorted(data))})")
    return {k: _decode(v, arrays, f"{where}.{k}") for k, v in data.items()}


def dumps(tree: dict[str, Any], header: dict[str, Any] | None = None) -> bytes:
    """``tree`` (and a JSON-able ``header``, readable on its own with :func:`read_header`) as ``.npz`` bytes."""
    arrays: dict[str, np.ndarray] = {}
    encoded = {"format": FORMAT, "header": header or {}, "tree": _encode(tree, "checkpoint", arrays)}
    text = json.dumps(encoded, separators=(",", ":"), allow_nan=True)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with zipfile.ZipFile(buf, "a", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(TREE, text)
    return buf.getvalue()


def _read_tree(source: str | bytes | Any) -> tuple[dict, Any]:
    """(the decoded JSON document, the open NpzFile)."""
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    try:
        npz = np.load(source, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - anything that is not a readable npz file
        raise SnapshotError(f"not a checkpoint file ({type(exc).__name__}: {_short(exc)})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise SnapshotError("not a checkpoint file (a single array, not an .npz archive)")
    try:
        with npz.zip.open(TREE) as fh:
            doc = json.loads(fh.read().decode())
    except KeyError:
        npz.close()
        raise SnapshotError(f"not a checkpoint file (no {TREE})") from None
    except Exception as exc:  # noqa: BLE001 - truncated or damaged member
        npz.close()
        raise SnapshotError(f"damaged checkpoint file ({type(exc).__name__}: {_short(exc)})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        npz.close()
        raise SnapshotError(f"not a {FORMAT} file")
    return doc, npz


def read_header(source: str | bytes | Any) -> dict[str, Any]:
    """The header given to :func:`dumps`, without loading the arrays."""
    doc, npz = _read_tree(source)
    npz.close()
    header = doc.get("header")
    if not isinstance(header, dict):
        raise SnapshotError("damaged checkpoint file (its header is not a mapping)")
    return header


def loads(source: str | bytes | Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, tree) from a file name, an open binary file or bytes written by :func:`dumps`.

    Raises :class:`SnapshotError` (one line) for anything that is not such a file, including truncated
    files, arrays that would need pickle, and classes outside :data:`CLASSES`.
    """
    doc, npz = _read_tree(source)
    try:
        names = [n for n in npz.files if n != TREE.removesuffix(".npy")]
        arrays = {}
        for name in names:
            try:
                arrays[name] = npz[name]
            except Exception as exc:  # noqa: BLE001 - e.g. an object array (needs pickle) or a truncated member
                raise SnapshotError(f"damaged checkpoint file: array {name!r} cannot be read "
                                    f"({type(exc).__name__}: {_short(exc)})") from None
    finally:
        npz.close()
    header = doc.get("header")
    if not isinstance(header, dict):
        raise SnapshotError("damaged checkpoint file (its header is not a mapping)")
    tree = _decode(doc.get("tree"), arrays, "checkpoint")
    if not isinstance(tree, dict):
        raise SnapshotError("damaged checkpoint file (its content is not a mapping)")
    return header, tree


def _short(exc: BaseException, n: int = 120) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= n else text[: n - 3] + "..."


__all__ = ["CLASSES", "FORMAT", "SnapshotError", "dumps", "loads", "read_header"]
