"""Fixtures shared by the test files (helpers that are plain functions live in tests/helpers.py)."""
import pytest

from tests.helpers import make_dataset


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> str:
    """A tiny VideoPose3D-layout npz (``tests.helpers.make_dataset``): 3 subjects, 2 clips, 2 cameras."""
    return make_dataset(tmp_path_factory.mktemp("tiny_dataset") / "tiny.npz")


@pytest.fixture(autouse=True)
def thread_setting():
    """Every test starts from the same thread setting: ``Lifter(threads=...)`` changes it for the whole process
    (PyTorch's thread count and the row split of h2ot.threads), so a test's lifter would otherwise set it for the
    tests after it."""
    import torch

    from h2ot.threads import use_threads

    before = torch.get_num_threads()
    yield
    use_threads(before)  # PyTorch's threads as before, rows not split
