"""Fixtures: the small study is written once per session and copied for each test."""

from __future__ import annotations

import dataclasses
import shutil

import pytest

from ._study import Study, make_study


@pytest.fixture(scope="session")
def study_template(tmp_path_factory) -> Study:
    return make_study(tmp_path_factory.mktemp("dicom-template"))


@pytest.fixture
def study(study_template: Study, tmp_path) -> Study:
    """A private copy of the small study that a test may break."""
    shutil.copytree(study_template.dicom, tmp_path / "dicom")
    return dataclasses.replace(study_template, dicom=tmp_path / "dicom", out=tmp_path / "out")
