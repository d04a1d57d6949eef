"""Reading and writing the shared format: ``instance/1`` and ``solution/1`` JSON, ``.npz`` and datasets.

- ``.json``: one human-readable document, ``{"routelab": "instance/1", "kind", "name", "meta", "data"}``.
- ``.npz``: the same document with every array field stored natively (lossless float64/int64) and the rest of
  the document as a JSON string under ``__header__``.
- batched ``.npz`` datasets (``dataset/1``): instances of one kind and size with each array field stacked
  along a leading batch axis; the per-instance scalars live in the header.

Every writer goes through :func:`atomic_write`, so an interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from routelab.problems.errors import FormatError
from routelab.problems.kinds import get_kind
from routelab.problems.solution import Solution

INSTANCE_VERSION = "instance/1"
SOLUTION_VERSION = "solution/1"
DATASET_VERSION = "dataset/1"
HEADER_KEY = "__header__"


# -- files --------------------------------------------------------------------------------------------
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[io.BufferedWriter], None]) -> None:
    """Write through a temporary file in the target folder and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the mode open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, document: dict[str, Any]) -> None:
    text = json.dumps(document, indent=1, allow_nan=False) + "\n"
    atomic_write(path, lambda h: h.write(text.encode()))


def read_json(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise FormatError(str(path), "file", "an existing file", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(str(path), "file", "a readable UTF-8 JSON file", str(exc)) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(str(path), "file", "valid JSON", f"{exc.msg} at line {exc.lineno}") from None
    if not isinstance(doc, dict):
        raise FormatError(str(path), "document", "a JSON object", type(doc).__name__)
    return doc


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _check_version(source: str, doc: dict[str, Any], expected: str) -> None:
    if doc.get("routelab") != expected:
        raise FormatError(source, "routelab", f"the format tag {expected!r}", doc.get("routelab", "missing"))


# -- instances ----------------------------------------------------------------------------------------
def instance_to_document(instance: Any) -> dict[str, Any]:
    return {
        "routelab": INSTANCE_VERSION,
        "kind": instance.kind,
        "name": instance.name,
        "meta": _jsonable(instance.meta),
        "data": instance.to_data(),
    }


def instance_from_document(doc: dict[str, Any], source: str) -> Any:
    """Build and validate an instance; any problem is raised as a FormatError naming ``source``."""
    _check_version(source, doc, INSTANCE_VERSION)
    kind = get_kind(doc.get("kind"), source)
    name = doc.get("name")
    if not isinstance(name, str) or not name:
        raise FormatError(source, "name", "a non-empty string", name)
    data = doc.get("data")
    if not isinstance(data, dict):
        raise FormatError(source, "data", "an object with the kind's fields", type(data).__name__)
    meta = doc.get("meta") or {}
    if not isinstance(meta, dict):
        raise FormatError(source, "meta", "an object", type(meta).__name__)
    try:
        return kind.instance_cls.from_data(name, data, meta)
    except FormatError as exc:
        # The instance validates itself under its own name; report the file the user gave instead.
        raise FormatError(source, f"data.{exc.field}", exc.expected, exc.got) from None


def _split_arrays(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    scalars = {k: v for k, v in data.items() if not isinstance(v, np.ndarray)}
    arrays = {k: v for k, v in data.items() if isinstance(v, np.ndarray)}
    return scalars, arrays


def _open_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise FormatError(str(path), "file", "an existing file", "no such file") from None
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
        raise FormatError(str(path), "file", "a complete .npz archive", f"{type(exc).__name__}: {exc}") from None


def _npz_header(path: Path, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    if HEADER_KEY not in arrays:
        raise FormatError(str(path), HEADER_KEY, "a JSON header written by routelab", "missing")
    try:
        header = json.loads(str(arrays[HEADER_KEY]))
    except json.JSONDecodeError as exc:
        raise FormatError(str(path), HEADER_KEY, "valid JSON", exc.msg) from None
    if not isinstance(header, dict):
        raise FormatError(str(path), HEADER_KEY, "a JSON object", type(header).__name__)
    return header


def save_instance(instance: Any, path: str | Path) -> None:
    """Write ``instance`` as ``.json`` or ``.npz`` (chosen by the extension)."""
    path = Path(path)
    doc = instance_to_document(instance)
    if path.suffix == ".json":
        doc["data"] = _jsonable(doc["data"])
        write_json(path, doc)
    elif path.suffix == ".npz":
        scalars, arrays = _split_arrays(doc["data"])
        header = {**doc, "data": _jsonable(scalars), "arrays": sorted(arrays)}

        def write(handle: io.BufferedWriter) -> None:
            np.savez_compressed(handle, **{HEADER_KEY: np.array(json.dumps(header))}, **arrays)

        atomic_write(path, write)
    else:
        raise FormatError(str(path), "extension", "'.json' or '.npz' for the shared format", path.suffix)


def load_instance(path: str | Path) -> Any:
    """Read a shared-format instance from ``.json`` or single-instance ``.npz``."""
    path = Path(path)
    if path.suffix == ".json":
        return instance_from_document(read_json(path), str(path))
    if path.suffix == ".npz":
        arrays = _open_npz(path)
        header = _npz_header(path, arrays)
        if header.get("routelab") == DATASET_VERSION:
            raise FormatError(
                str(path), "routelab", "a single instance", f"a dataset of {header.get('count')} instances"
            )
        data = dict(header.get("data") or {})
        for key in header.get("arrays", []):
            if key not in arrays:
                raise FormatError(str(path), f"data.{key}", "an array listed in the header", "missing")
            data[key] = arrays[key]
        header["data"] = data
        return instance_from_document(header, str(path))
    raise FormatError(
        str(path), "extension", "'.json' or '.npz' (use `routelab convert` for other formats)", path.suffix
    )


# -- datasets -----------------------------------------------------------------------------------------
def save_dataset(instances: Sequence[Any], path: str | Path) -> None:
    """Write instances of one kind and size as a batched ``.npz`` (arrays stacked on axis 0)."""
    path = Path(path)
    if not instances:
        raise ValueError("a dataset needs at least one instance")
    kinds = {inst.kind for inst in instances}
    if len(kinds) != 1:
        raise ValueError(f"a dataset holds one kind, got {sorted(kinds)}")
    splits = [_split_arrays(inst.to_data()) for inst in instances]
    array_keys = sorted(splits[0][1])
    # A kind may declare fields whose length varies between instances (coordination: roadmaps, paths); they are
    # stored concatenated along axis 0 with their per-instance lengths in the header, instead of stacked.
    ragged = sorted(set(getattr(type(instances[0]), "ragged_fields", ())) & set(array_keys))
    for k, (_, arrays) in enumerate(splits):
        if sorted(arrays) != array_keys:
            raise ValueError(f"instance {k} has fields {sorted(arrays)}, the first has {array_keys}")
        for key in array_keys:
            first = splits[0][1][key].shape
            if key in ragged:
                if arrays[key].shape[1:] != first[1:]:
                    raise ValueError(f"instance {k}: {key} has shape {arrays[key].shape}, not (*, {first[1:]})")
            elif arrays[key].shape != first:
                raise ValueError(f"instance {k}: {key} has shape {arrays[key].shape}, not {first}")
    stacked = {
        key: (np.concatenate if key in ragged else np.stack)([arrays[key] for _, arrays in splits])
        for key in array_keys
    }
    scalar_keys = sorted(splits[0][0])
    header = {
        "routelab": DATASET_VERSION,
        "kind": instances[0].kind,
        "count": len(instances),
        "names": [inst.name for inst in instances],
        "meta": [_jsonable(inst.meta) for inst in instances],
        "scalars": {key: [_jsonable(s.get(key)) for s, _ in splits] for key in scalar_keys},
        "arrays": array_keys,
    }
    if ragged:
        header["ragged"] = {key: [len(arrays[key]) for _, arrays in splits] for key in ragged}

    def write(handle: io.BufferedWriter) -> None:
        np.savez_compressed(handle, **{HEADER_KEY: np.array(json.dumps(header))}, **stacked)

    atomic_write(path, write)


def load_dataset(path: str | Path) -> list[Any]:
    """Read every instance of a batched ``.npz`` dataset (validated one by one)."""
    path = Path(path)
    arrays = _open_npz(path)
    header = _npz_header(path, arrays)
    _check_version(str(path), header, DATASET_VERSION)
    count = header.get("count")
    if not isinstance(count, int) or count < 1:
        raise FormatError(str(path), "count", "a positive integer", count)
    names = header.get("names") or []
    metas = header.get("meta") or [{}] * count
    scalars = header.get("scalars") or {}
    if len(names) != count or len(metas) != count or any(len(v) != count for v in scalars.values()):
        raise FormatError(str(path), "names/meta/scalars", f"{count} entries each", "lists of other lengths")
    ragged = header.get("ragged") or {}
    starts: dict[str, np.ndarray] = {}
    for key, lengths in ragged.items():
        if not isinstance(lengths, list) or len(lengths) != count or key not in arrays:
            raise FormatError(str(path), f"ragged.{key}", f"{count} lengths of a stored array", "missing or short")
        starts[key] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        if starts[key][-1] != len(arrays[key]):
            raise FormatError(str(path), key, f"{starts[key][-1]} rows (the ragged lengths)", len(arrays[key]))
    out = []
    for b in range(count):
        data: dict[str, Any] = {key: values[b] for key, values in scalars.items()}
        for key in header.get("arrays", []):
            if key in starts:
                data[key] = arrays[key][starts[key][b] : starts[key][b + 1]]
                continue
            if key not in arrays or len(arrays[key]) != count:
                raise FormatError(str(path), key, f"an array stacked over {count} instances", "missing or short")
            data[key] = arrays[key][b]
        doc = {
            "routelab": INSTANCE_VERSION,
            "kind": header.get("kind"),
            "name": names[b],
            "meta": metas[b],
            "data": data,
        }
        out.append(instance_from_document(doc, f"{path}[{b}]"))
    return out


# -- solutions ----------------------------------------------------------------------------------------
def solution_to_document(solution: Solution) -> dict[str, Any]:
    return _jsonable(
        {
            "routelab": SOLUTION_VERSION,
            "kind": solution.kind,
            "instance": solution.instance,
            "solver": solution.solver,
            "objective": solution.objective,
            "feasible": bool(solution.feasible),
            **solution.payload,
            "runtime_s": solution.runtime_s,
            "stats": solution.stats,
        }
    )


def solution_from_document(doc: dict[str, Any], source: str) -> Solution:
    _check_version(source, doc, SOLUTION_VERSION)
    kind = get_kind(doc.get("kind"), source)
    for key in ("instance", "solver"):
        if not isinstance(doc.get(key), str):
            raise FormatError(source, key, "a string", doc.get(key, "missing"))
    objective = doc.get("objective")
    if objective is not None and (isinstance(objective, bool) or not isinstance(objective, (int, float))):
        raise FormatError(source, "objective", "a number or null", objective)
    payload = kind.parse_payload(source, {k: doc[k] for k in kind.payload_keys if k in doc})
    return Solution(
        kind=kind.name,
        instance=doc["instance"],
        solver=doc["solver"],
        payload=payload,
        objective=None if objective is None else float(objective),
        feasible=bool(doc.get("feasible", False)),
        runtime_s=float(doc.get("runtime_s") or 0.0),
        stats=dict(doc.get("stats") or {}),
    )


def save_solution(solution: Solution, path: str | Path) -> None:
    write_json(path, solution_to_document(solution))


def load_solution(path: str | Path) -> Solution:
    return solution_from_document(read_json(path), str(path))
