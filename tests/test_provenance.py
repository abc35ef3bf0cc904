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
