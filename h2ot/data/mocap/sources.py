"""Sources: people, the held-out split and the licence of each motion-capture collection."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from .clip import MocapClip


@dataclass(frozen=True)
class Source:
    """A motion-capture collection: how its file names name a person, and what is held out for testing.

    ``person``: a regular expression on the file stem whose group 1 is the person (or, where a collection
    does not say who performed a clip, the part it does say); subjects are ``prefix + person``.
    ``test_people``: people held out whole. ``units``: the documented length unit (else detected). ``test_every``: also hold out every N-th clip (by sorted file
    name) of the others, as the subject ``prefix + person + "-test"``; 0 = none.
    """

    name: str
    person: str
    prefix: str
    test_people: tuple[str, ...] = ()
    test_every: int = 0
    units: str | None = None  # the length unit when the collection documents one; None: detect it
    licence: str | None = None  # "open" or "non-commercial" when documented; None: read the folder's files


#: The sources this project knows, by the rig preset that reads them (:data:`MAPPING_PRESETS`).
SOURCES = {
    # CMU: SS_CC.bvh = subject SS; test: walk/run/jump (02), runs (09), soccer (10), walk + tai chi (12)
    "cmu": Source("cmu", r"^(\d+)_", "S", test_people=("02", "09", "10", "12"), licence="open"),
    # ReActIdle: NNN_acted / NNN_genuine = person NNN; two people held out (both their clips)
    "reactidle": Source("reactidle", r"^(\d+)_", "R", test_people=("002", "010"), units="m", licence="open"),
    # Bandai Namco: the files do not say which of the three actors performed; whole clips are held
    # out instead: every 10th of each dataset
    "bandai": Source("bandai", r"^dataset-(\d+)_", "B", test_every=10, units="cm", licence="non-commercial"),
    "custom": Source("custom", r"^([^_]+)", "S"),
}
SOURCE_OF_PRESET = {"daz": "cmu", "motionbuilder": "cmu", "asf": "cmu", "bandai": "bandai",
                    "reactidle": "reactidle", "custom": "custom"}

#: Fixed subject split of the CMU clips in ../shared/data/cmu/daz (about 20 % of frames in test).
CMU_TEST_SUBJECTS = tuple(SOURCES["cmu"].prefix + p for p in SOURCES["cmu"].test_people)

_NONCOMMERCIAL = ("noncommercial", "non-commercial", "non commercial", "by-nc", "not for commercial",
                  "research purposes only", "academic use")


def folder_licence(folder) -> str:
    """The licence of a data folder, from the ``LICENSE*``/``LICENCE*``/``COPYING*`` files in it, in its
    sub-folders two levels down, or (when there are none) in its two parents: ``"non-commercial"`` if any
    of them is (Creative Commons NC and the like), ``"open"`` (other licence files) or ``"unstated"``."""
    folder = Path(folder).resolve()
    folder = folder if folder.is_dir() else folder.parent  # a single clip: its folder's licence
    prefixes = ("LICENSE", "LICENCE", "COPYING")
    below = [p for pattern in ("*", "*/*", "*/*/*") for p in folder.glob(pattern)]
    above = [p for where in list(folder.parents)[:2] for p in where.glob("*")]
    for candidates in (below, above):
        found = [p for p in candidates if p.is_file() and p.name.upper().startswith(prefixes)]
        if found:
            texts = [p.read_text(errors="replace")[:4000].lower() for p in found]
            return ("non-commercial" if any(k in t for t in texts for k in _NONCOMMERCIAL) else "open")
    return "unstated"


def _check_free(folder, licence: str) -> None:
    if licence != "open":
        raise ValueError(f"{folder}: its licence is {licence}, and a dataset for a model free for any use may only "
                         "include sources whose licence allows it (drop this source or build without --free-only)")


def bvh_files(folder) -> list[Path]:
    """Every ``*.bvh`` and ``*.bvh.gz`` under ``folder`` (recursively), sorted; ``folder`` may be one such file."""
    folder = Path(folder)
    found = [folder] if folder.is_file() else folder.rglob("*")
    return sorted(p for p in found if p.name.endswith((".bvh", ".bvh.gz")))


def clip_subjects(clips: list["MocapClip"], test_subjects=None) -> tuple[list[str], set[str]]:
    """The subject of every clip and the set of test subjects, by each clip's :class:`Source` (from its
    preset) — or, when ``test_subjects`` is given, exactly those subjects are the test split."""
    subjects, test = [], set()
    seen: dict[str, int] = {}
    for clip in clips:
        source, person, subject = _source_person(clip.preset, clip.name)
        if test_subjects is None:
            if person in source.test_people:
                test.add(subject)
            elif source.test_every:
                seen[subject] = seen.get(subject, 0) + 1
                if seen[subject] % source.test_every == 0:
                    subject += "-test"
                    test.add(subject)
        subjects.append(subject)
    if test_subjects is not None:
        test = set(test_subjects)
    return subjects, test


def _source_person(preset: str, name: str) -> tuple[Source, str, str]:
    """The source of a clip read with ``preset``, its person and subject, from the clip ``name``."""
    source = SOURCES[SOURCE_OF_PRESET.get(preset, "custom")]
    match = re.match(source.person, name)
    person = match.group(1) if match else name
    return source, person, source.prefix + person
