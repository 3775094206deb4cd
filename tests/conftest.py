"""Fixtures shared by the test files (helpers that are plain functions live in tests/helpers.py)."""
import pytest

from tests.helpers import make_dataset


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> str:
    """A tiny VideoPose3D-layout npz (``tests.helpers.make_dataset``): 3 subjects, 2 clips, 2 cameras."""
    return make_dataset(tmp_path_factory.mktemp("tiny_dataset") / "tiny.npz")
