"""The official V-JEPA / V-JEPA 2 sample lists, read as they are.

``.csv``: one ``path label`` line per sample, space-delimited; when a path holds spaces, the whole file is read with
``::`` as the delimiter instead (the official fallback). ``.npy``: an array of paths, every label 0. A relative path
is taken relative to the list's folder when it exists there, else relative to the working directory (the official
behaviour). Labels are integers; a list of other labels (class names) numbers them in sorted order, or in the order
of given ``classes`` (those of a training list, so that its evaluation list means the same by each number).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jepa.errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class ListedSample:
    """One entry of a sample list: the file, its label, which list it came from and on which line."""

    path: str
    label: int
    source: int
    line: int = 0

    @property
    def is_image(self) -> bool:
        """An image entry becomes a clip of the image repeated (official V-JEPA 2)."""
        return self.path.lower().endswith(IMAGE_SUFFIXES)


def _split_lines(path: Path) -> list[list[str]]:
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    by_space = [line.split(" ") for line in lines]
    if all(len(fields) == 2 for fields in by_space):
        return by_space
    by_colons = [line.split("::") for line in lines]
    if all(len(fields) == 2 for fields in by_colons):
        return by_colons
    fields_of = by_colons if any("::" in line for line in lines) else by_space
    number = next(i for i, fields in enumerate(fields_of, 1) if len(fields) != 2)
    raise InputError(f"{path}:{number}: expected 'path label' (or 'path::label'), got {lines[number - 1]!r}")


def _resolve(entry: str, folder: Path) -> str:
    path = Path(entry).expanduser()
    if path.is_absolute():
        return str(path)
    beside = folder / path
    return str(beside if beside.exists() or not path.exists() else path)


def class_names(paths: list[str]) -> list[str] | None:
    """The sorted class names of lists labelled by name (``None`` when their labels are integers)."""
    labels = {label for path in paths for _, label in _entries(Path(path).expanduser())}
    return None if all(label.lstrip("-").isdigit() for label in labels) else sorted(labels)


def _entries(path: Path) -> list[tuple[str, str]]:
    """The ``(path, label)`` entries of one list file, checked."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"data.datasets: no such list file {path}")
    if path.suffix == ".npy":
        entries = [(str(p), "0") for p in np.load(path, allow_pickle=True).tolist()]
    elif path.suffix == ".csv":
        entries = [(fields[0], fields[1]) for fields in _split_lines(path)]
    else:
        raise InputError(f"data.datasets: {path} is neither a .csv nor a .npy sample list")
    if not entries:
        raise InputError(f"data.datasets: {path} lists no samples")
    return [(p.strip(), label.strip()) for p, label in entries]


def list_entries(path: str | Path) -> list[tuple[str, str]]:
    """The ``(file, label)`` entries of one list, files resolved as :func:`read_sample_list` resolves them and
    labels as written (what a rewritten list, e.g. ``jepa prepare``'s, must keep)."""
    path = Path(path).expanduser()
    return [(_resolve(p, path.parent), label) for p, label in _entries(path)]


def read_sample_list(path: str | Path, source: int = 0, classes: list[str] | None = None) -> list[ListedSample]:
    """The samples of one ``.csv`` or ``.npy`` list (errors name the file and line). Labels that are names are
    numbered by their place in ``classes`` when given (a name not among them is an error), else in sorted order."""
    path = Path(path).expanduser()
    entries = _entries(path)
    labels = [label for _, label in entries]
    try:
        numbers = [int(label) for label in labels]
    except ValueError:
        order = {name: i for i, name in enumerate(classes if classes is not None else sorted(set(labels)))}
        unknown = next((i for i, label in enumerate(labels) if label not in order), None)
        if unknown is not None:
            raise InputError(f"{path}:{unknown + 1}: class {labels[unknown]!r} is not one of the {len(order)} classes "
                             f"of the training lists") from None  # fmt: skip
        numbers = [order[label] for label in labels]
    return [ListedSample(_resolve(p, path.parent), n, source, line)
            for line, ((p, _), n) in enumerate(zip(entries, numbers), 1)]  # fmt: skip
