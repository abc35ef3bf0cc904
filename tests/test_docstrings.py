"""Every public function and method of ``qmri_kernels`` has a numpydoc docstring.

What is public
--------------
A module is public unless a part of its path below ``qmri_kernels/`` starts with ``_``
(``__init__.py`` files are public). In a public module the public callables are the
top-level functions and classes named in ``__all__`` (every top-level name without a
leading ``_`` when the module has no ``__all__``), and the methods of those classes whose
names do not start with ``_``. A name that a public module lists in ``__all__`` but
imports from a private module (``from ._fit import FatWaterModel``) is public too and is
checked where it is defined.

The rules (static, read from the source with :mod:`ast`; nothing is imported)
-----------------------------------------------------------------------------
* A public function or method has a docstring.
* It has a numpydoc ``Parameters`` section (a ``Parameters`` line underlined with dashes)
  if it takes any argument besides ``self`` / ``cls``.
* It has a ``Returns`` (or ``Yields``) section if its own body returns a value or yields
  (``return`` with no value or ``return None`` does not count; returns inside nested
  functions do not count).
* It has a ``Raises`` section if its own body raises an exception itself
  (``raise SomeError(...)``; a bare re-raise does not count). Exceptions that only pass
  through from called functions are not detected — document them anyway.

Exemptions, all of them
-----------------------
* Names starting with ``_``: private helpers, ``__init__`` (the class docstring documents
  the constructor's parameters) and the other dunder methods.
* Properties (``@property``, ``@cached_property`` and their setters) need a docstring but
  no sections: they take no arguments and the docstring's first line says what they hold.
* There is **no** exemption for a method because its class docstring documents the
  parameters: every public method documents its own parameters.

Modules whose docstrings are still incomplete are listed in :data:`INCOMPLETE`, each with
what it lacks, and marked ``xfail(strict=False)``; remove an entry once the module passes
(the short test summary shows it as XPASS).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "qmri_kernels"

#: Modules (paths below ``qmri_kernels/``; a trailing ``/`` means a whole subpackage)
#: whose docstrings are known to be incomplete, and what they lack.
INCOMPLETE: dict[str, str] = {}

_PROPERTY_DECORATORS = {"property", "cached_property", "setter", "getter", "deleter"}


# ----------------------------------------------------------------------------- the checker

def is_private(path: Path, root: Path = PACKAGE) -> bool:
    """Whether a module file is private (a path part below ``root`` starts with ``_``)."""
    return any(part.startswith("_") and part != "__init__.py"
               for part in path.relative_to(root).parts)


def has_section(doc: str, *names: str) -> bool:
    """Whether ``doc`` has a numpydoc section header ``name`` underlined with dashes."""
    return any(re.search(rf"^[ \t]*{re.escape(n)}[ \t]*\r?\n[ \t]*-{{3,}}[ \t]*$", doc, re.M)
               for n in names)


def _own_nodes(fn: ast.AST) -> Iterator[ast.AST]:
    """Nodes of ``fn``'s body, not descending into nested functions, classes or lambdas."""
    stack = list(fn.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def returns_value(fn: ast.AST) -> bool:
    """Whether ``fn`` itself returns a value (not None) or yields."""
    for node in _own_nodes(fn):
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(node, ast.Return) and node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            return True
    return False


def raises_itself(fn: ast.AST) -> bool:
    """Whether ``fn``'s own body raises an exception (``raise X``, not a bare re-raise)."""
    return any(isinstance(node, ast.Raise) and node.exc is not None for node in _own_nodes(fn))


def is_property(fn: ast.AST) -> bool:
    """Whether a method is a property (or one of its setter / getter / deleter)."""
    for dec in fn.decorator_list:
        name = dec.attr if isinstance(dec, ast.Attribute) else getattr(dec, "id", "")
        if name in _PROPERTY_DECORATORS:
            return True
    return False


def problems(fn: ast.FunctionDef | ast.AsyncFunctionDef, *, method: bool = False) -> list[str]:
    """What the docstring of one public function or method lacks (empty if complete)."""
    doc = ast.get_docstring(fn) or ""
    if not doc.strip():
        return ["no docstring"]
    if method and is_property(fn):
        return []
    a = fn.args
    args = [x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)
            if x.arg not in ("self", "cls")]
    args += [x.arg for x in (a.vararg, a.kwarg) if x is not None]
    out = []
    if args and not has_section(doc, "Parameters"):
        out.append("no Parameters section")
    if returns_value(fn) and not has_section(doc, "Returns", "Yields"):
        out.append("no Returns section")
    if raises_itself(fn) and not has_section(doc, "Raises"):
        out.append("no Raises section")
    return out


def _dunder_all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AnnAssign) else [])
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return list(ast.literal_eval(node.value))
    return None


def _definitions(tree: ast.Module) -> dict[str, ast.AST]:
    return {n.name: n for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def _import_source(module: Path, node: ast.ImportFrom) -> Path | None:
    """File a relative ``from ... import`` reads, or None if it is not in the package."""
    base = module.parent
    for _ in range(node.level - 1):
        base = base.parent
    target = base.joinpath(*(node.module.split(".") if node.module else []))
    for candidate in (target.with_suffix(".py"), target / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def public_callables(path: Path, root: Path = PACKAGE
                     ) -> Iterator[tuple[Path, str, ast.AST, bool]]:
    """(defining file, qualified name, node, is_method) of each public callable of a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = _dunder_all(tree)
    local = _definitions(tree)
    targets: list[tuple[Path, ast.AST]] = []
    if names is None:
        targets = [(path, n) for name, n in local.items() if not name.startswith("_")]
    else:
        reexported: dict[str, tuple[Path, str]] = {}
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.level >= 1:
                src = _import_source(path, node)
                if src is not None and is_private(src, root):
                    for alias in node.names:
                        reexported[alias.asname or alias.name] = (src, alias.name)
        for name in names:
            if name in local:
                targets.append((path, local[name]))
            elif name in reexported:
                src, original = reexported[name]
                found = _definitions(ast.parse(src.read_text(encoding="utf-8"))).get(original)
                if found is not None:
                    targets.append((src, found))
    for where, node in targets:
        if isinstance(node, ast.ClassDef):
            for sub in node.body:
                if (isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef))
                        and not sub.name.startswith("_")):
                    yield where, f"{node.name}.{sub.name}", sub, True
        else:
            yield where, node.name, node, False


def module_problems(path: Path, root: Path = PACKAGE) -> list[str]:
    """Every problem of a module's public callables, one line each (file:line name: what)."""
    out = []
    for where, qualname, node, method in public_callables(path, root):
        for problem in problems(node, method=method):
            rel = where.relative_to(root.parent).as_posix()
            out.append(f"{rel}:{node.lineno} {qualname}: {problem}")
    return out


# --------------------------------------------------------------------------------- tests

def _public_modules() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if not is_private(p)]


def _known_gap(rel: str) -> str | None:
    for key, reason in INCOMPLETE.items():
        if rel == key or (key.endswith("/") and rel.startswith(key)):
            return reason
    return None


def _params() -> list:
    params = []
    for path in _public_modules():
        rel = path.relative_to(PACKAGE).as_posix()
        reason = _known_gap(rel)
        marks = [pytest.mark.xfail(strict=False, reason=reason)] if reason else []
        params.append(pytest.param(path, id=rel, marks=marks))
    return params


@pytest.mark.parametrize("path", _params())
def test_public_callables_are_documented(path: Path) -> None:
    found = module_problems(path)
    assert not found, (f"{len(found)} docstring problem(s) in {path.name} (numpydoc "
                       "sections with shapes and units; see tests/test_docstrings.py):\n"
                       + "\n".join(found))


def test_the_walk_finds_the_package() -> None:
    modules = {p.relative_to(PACKAGE).as_posix() for p in _public_modules()}
    assert {"derivatives.py", "labels.py", "t2/subject.py", "fatwater/__init__.py"} <= modules
    assert not any(part.startswith("_") and part != "__init__.py"
                   for m in modules for part in m.split("/"))
    names = {q for _, q, _, _ in public_callables(PACKAGE / "fatwater" / "__init__.py")}
    assert {"FatWaterModel.fit", "FatWaterFit.predict", "signal"} <= names   # re-exports
    assert len(list(public_callables(PACKAGE / "derivatives.py"))) >= 10


_BAD = '''
"""A module."""
from ._impl import hidden

__all__ = ["bare", "no_sections", "documented", "Thing", "hidden", "proc"]


def bare(x):
    return x


def no_sections(x, *, y=1):
    """Something."""
    if x < 0:
        raise ValueError("x must be non-negative")
    return x + y


def proc():
    """Does a thing; returns nothing, raises nothing itself."""
    def inner():
        return 1
    inner()
    return None


def documented(x):
    """Square.

    Parameters
    ----------
    x : float
        Value, mm.

    Returns
    -------
    float
        ``x**2``, mm².

    Raises
    ------
    ValueError
        If ``x`` is NaN.
    """
    if x != x:
        raise ValueError("x is NaN")
    return x * x


def not_exported(x):
    return x


class Thing:
    """A thing.

    Parameters
    ----------
    a : int
        Documented here, but methods still document their own parameters.
    """

    def __init__(self, a):
        self.a = a

    @property
    def size(self):
        """Size, mm."""
        return 1

    @property
    def undocumented_property(self):
        return 2

    def scaled(self, factor):
        """The thing scaled."""
        return self.a * factor

    def _private(self, z):
        return z
'''

_IMPL = '''
def hidden(a):
    """Re-exported from a private module; checked where it is defined."""
    return a
'''


def test_the_checker_finds_what_is_missing(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "mod.py").write_text(_BAD)
    (pkg / "_impl.py").write_text(_IMPL)
    found = {line.split(" ", 1)[1] for line in module_problems(pkg / "mod.py", pkg)}
    assert found == {
        "bare: no docstring",
        "no_sections: no Parameters section",
        "no_sections: no Returns section",
        "no_sections: no Raises section",
        "Thing.undocumented_property: no docstring",
        "Thing.scaled: no Parameters section",
        "Thing.scaled: no Returns section",
        "hidden: no Parameters section",
        "hidden: no Returns section",
    }
    assert is_private(pkg / "_impl.py", pkg) and not is_private(pkg / "mod.py", pkg)
