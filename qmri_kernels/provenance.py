"""Digests of the library's own files: what made a cached result.

A cached output — the synthetic cohort on disk, a pipeline stage's maps, an executed
chapter — is only as current as the code that made it. :func:`code_digest` hashes the
package's source and data files (Python, shipped weights and their sidecars, label tables),
so a cache can record what made it and be rebuilt when that changes.
:func:`import_closure` finds the part of the package a module can run (its imports,
followed transitively), so that a cache can depend on that part only.
"""

from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path

__all__ = ["code_digest", "import_closure", "PACKAGE_DIR", "GENERATOR_SOURCES"]

#: The installed package's folder.
PACKAGE_DIR: Path = Path(__file__).resolve().parent

#: What the synthetic-cohort generator is made of (its imports, followed by hand): the
#: phantom, the paper's tables, the shared vocabulary (label table, grids, subject ids) and
#: the physics, fat saturation, fat-water signal, EPG and statistics it uses.
GENERATOR_SOURCES: tuple[str, ...] = ("phantom", "paper.py", "labels.py", "grids.py",
                                      "subject_id.py", "physics.py", "fatsat.py", "fatwater",
                                      "t2", "stats")

_SUFFIXES = (".py", ".pt", ".json", ".tsv", ".yaml", ".csv")


@lru_cache(maxsize=16)
def code_digest(parts: tuple[str, ...] | None = None) -> str:
    """SHA-256 (first 16 hex digits) of the package's files, or of some of them.

    Parameters
    ----------
    parts : tuple of str, optional
        Files or sub-packages relative to the package folder (``"phantom"``,
        ``"physics.py"``); default the whole package.

    Returns
    -------
    str
        16 hex digits; equal for byte-identical files at the same relative paths.

    Raises
    ------
    FileNotFoundError
        If a named part does not exist.

    Examples
    --------
    >>> code_digest(("physics.py",)) == code_digest(("physics.py",))
    True
    >>> len(code_digest())
    16
    """
    roots = [PACKAGE_DIR] if parts is None else [PACKAGE_DIR / p for p in parts]
    files: set[Path] = set()
    for root in roots:
        if not root.exists():
            raise FileNotFoundError(f"code_digest: {root} does not exist")
        found = [root] if root.is_file() else root.rglob("*")
        files.update(f for f in found if f.is_file() and f.suffix in _SUFFIXES
                     and "__pycache__" not in f.parts)
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(f.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()[:16]


def _module_file(root: Path, dotted: list[str]) -> Path | None:
    """The file of module ``dotted`` (relative to the package ``root``), if it is one."""
    base = root.joinpath(*dotted) if dotted else root
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file() and dotted:
        return base.with_suffix(".py")
    return None


def _imports(path: Path, root: Path, package_name: str) -> set[Path]:
    """Package files that ``path`` imports anywhere in its body (module level or inside
    functions): absolute ``package_name.…`` and relative imports, with ``from X import y``
    counting submodule ``X.y`` where it exists."""
    rel = path.relative_to(root)
    here = list(rel.parent.parts)          # the package the file belongs to
    found: set[Path] = set()

    def add(dotted: list[str], names: list[str]) -> None:
        module = _module_file(root, dotted)
        if module is not None:
            found.add(module)
        for name in names:
            sub = _module_file(root, dotted + [name])
            if sub is not None:
                found.add(sub)

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == package_name:
                    add(parts[1:], [])
        elif isinstance(node, ast.ImportFrom):
            names = [a.name for a in node.names if a.name != "*"]
            if node.level:
                up = here[:len(here) - (node.level - 1)] if node.level > 1 else here
                if node.level - 1 > len(here):
                    continue
                add(up + (node.module.split(".") if node.module else []), names)
            elif node.module and node.module.split(".")[0] == package_name:
                add(node.module.split(".")[1:], names)
    return found


@lru_cache(maxsize=16)
def import_closure(entries: tuple[str, ...], root: Path | None = None) -> tuple[str, ...]:
    """The package's files that importing (and running) ``entries`` can execute.

    Follows every import of the package in each file — at module level and inside
    functions, absolute and relative — transitively, adds the ``__init__.py`` of every
    package on the way (importing ``a.b.c`` runs ``a/__init__.py`` and ``a/b/__init__.py``)
    and the data files (:func:`code_digest`'s suffixes, e.g. shipped network weights) in
    the folder of every module reached. Imports by string (``importlib``) are not seen.

    Parameters
    ----------
    entries : tuple of str
        Files relative to the package folder, e.g. ``("pipeline/stages.py",)``.
    root : Path, optional
        The package folder (default :data:`PACKAGE_DIR`); its name is the package's.

    Returns
    -------
    tuple of str
        Sorted paths relative to ``root``, for :func:`code_digest`.

    Raises
    ------
    FileNotFoundError
        If an entry is not a file under ``root``.

    Examples
    --------
    >>> parts = import_closure(("pipeline/stages.py",))
    >>> "fatwater/_kernels.py" in parts, "stats/__init__.py" in parts
    (True, False)
    """
    root = PACKAGE_DIR if root is None else Path(root)
    todo = []
    for entry in entries:
        path = root / entry
        if not path.is_file():
            raise FileNotFoundError(f"import_closure: {path} does not exist")
        todo.append(path)
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        parent = path.parent
        while parent != root and root in parent.parents:     # the packages on the way
            init = parent / "__init__.py"
            if init.is_file() and init not in seen:
                todo.append(init)
            parent = parent.parent
        if (root / "__init__.py").is_file() and root / "__init__.py" not in seen:
            todo.append(root / "__init__.py")
        todo.extend(_imports(path, root, root.name) - seen)
    data = {f for d in {p.parent for p in seen} for f in d.iterdir()
            if f.is_file() and f.suffix in _SUFFIXES and f.suffix != ".py"}
    for d in {p.parent for p in seen}:          # data folders beside a module (weights/)
        for sub in d.iterdir():
            if sub.is_dir() and not (sub / "__init__.py").exists() and sub.name != "__pycache__":
                data.update(f for f in sub.rglob("*") if f.is_file() and f.suffix in _SUFFIXES)
    return tuple(sorted(p.relative_to(root).as_posix() for p in seen | data))
