import pytest

from qmri_kernels import provenance
from qmri_kernels.provenance import code_digest


def test_digest_follows_the_bytes(tmp_path, monkeypatch):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "a.py").write_text("x = 1\n")
    (pkg / "sub" / "b.py").write_text("y = 2\n")
    (pkg / "sub" / "notes.txt").write_text("not code")
    monkeypatch.setattr(provenance, "PACKAGE_DIR", pkg)
    code_digest.cache_clear()
    whole, sub = code_digest(), code_digest(("sub",))
    assert len(whole) == 16 and whole != sub
    (pkg / "sub" / "notes.txt").write_text("other text")   # not a source file
    code_digest.cache_clear()
    assert code_digest() == whole
    (pkg / "sub" / "b.py").write_text("y = 3\n")
    code_digest.cache_clear()
    assert code_digest() != whole and code_digest(("a.py",)) == code_digest(("a.py",))
    with pytest.raises(FileNotFoundError, match="missing"):
        code_digest(("missing",))
    code_digest.cache_clear()


def test_generator_sources_exist():
    assert len(code_digest(provenance.GENERATOR_SOURCES)) == 16


def test_import_closure_follows_every_kind_of_import(tmp_path):
    """Module-level and function-level, absolute and relative imports, ``from X import
    submodule``, the packages on the way and data beside a module; nothing else."""
    pkg = tmp_path / "fakepkg"
    for d in ("core", "core/deep", "core/weights", "other"):
        (pkg / d).mkdir(parents=True)
    files = {
        "__init__.py": "",
        "entry.py": "from .core import kernel\n\ndef run():\n    import fakepkg.helper\n",
        "helper.py": "from fakepkg.core.deep import leaf\n",
        "core/__init__.py": "",
        "core/kernel.py": "from . import tables\nfrom ..util import tool\n",
        "core/tables.py": "",
        "core/deep/__init__.py": "",
        "core/deep/leaf.py": "import numpy\n",
        "core/weights/net.json": "{}",
        "core/notes.txt": "not a source",
        "util.py": "def tool():\n    pass\n",
        "other/__init__.py": "",
        "other/unused.py": "from ..core import kernel\n",
        "lonely.py": "",
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    got = set(provenance.import_closure(("entry.py",), pkg))
    assert got == {"__init__.py", "entry.py", "helper.py", "util.py", "core/__init__.py",
                   "core/kernel.py", "core/tables.py", "core/deep/__init__.py",
                   "core/deep/leaf.py", "core/weights/net.json"}
    with pytest.raises(FileNotFoundError, match="nowhere.py"):
        provenance.import_closure(("nowhere.py",), pkg)


def test_the_pipeline_closure_holds_the_kernels_but_not_the_statistics():
    parts = provenance.import_closure(("pipeline/stages.py",))
    for needed in ("fatwater/_kernels.py", "t2/_epg_fit_kernels.py", "segment/network.py",
                   "segment/weights/unet_t2w.pt", "dicom/vendor_maps.py", "masks/__init__.py",
                   "physics.py", "__init__.py"):
        assert needed in parts
    for outside in ("stats", "figures", "results", "widgets", "phantom", "validation"):
        assert not any(p.startswith(outside + "/") for p in parts), outside
