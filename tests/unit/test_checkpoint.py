"""The verified-prefix file beside the anchor: round trip, and every unusable file said why."""

from __future__ import annotations

import json

import pytest

from aqb_workflow.domain.audit import Head
from aqb_workflow.store.checkpoint import Checkpoint, Checkpoints, Unusable

CHAIN = "3f0c"
SAVED = Checkpoint(CHAIN, Head(7, "ab" * 32))


@pytest.fixture
def store(tmp_path):
    return Checkpoints.beside(tmp_path / "aqb-audit.anchor")


def test_it_lives_beside_the_anchor(store, tmp_path):
    assert store.path == tmp_path / "aqb-audit.anchor.verified"


def test_written_and_read_back_unchanged(store, tmp_path):
    store.write(SAVED)
    assert store.read(CHAIN) == SAVED
    assert [p.name for p in tmp_path.iterdir()] == ["aqb-audit.anchor.verified"]  # no temp left
    store.write(Checkpoint(CHAIN, Head(8, "cd" * 32)))
    assert store.read(CHAIN).head == Head(8, "cd" * 32)


def test_missing(store):
    with pytest.raises(Unusable, match="no verified prefix saved yet"):
        store.read(CHAIN)


def test_another_chains(store):
    store.write(SAVED)
    with pytest.raises(Unusable, match=r"belongs to another database \(chain 3f0c\)"):
        store.read("other")


HASH = "a" * 64  # a well-formed SHA-256, so each case below is wrong for its own reason


@pytest.mark.parametrize(
    "data",
    [
        "not json",
        "[]",
        {"chain": CHAIN, "seq": 7},
        {"seq": 7, "hash": HASH},
        {"chain": CHAIN, "seq": 7, "hash": "x"},  # not a SHA-256
        {"chain": CHAIN, "seq": 2**31, "hash": HASH},  # beyond any seq
        {"chain": CHAIN, "seq": "7", "hash": HASH},
        {"chain": CHAIN, "seq": -1, "hash": HASH},
        {"chain": CHAIN, "seq": True, "hash": HASH},
        {"chain": CHAIN, "seq": 7, "hash": 7},
        {"chain": 7, "seq": 7, "hash": HASH},
    ],
)
def test_unreadable(store, data):
    text = data if isinstance(data, str) else json.dumps(data)
    store.path.write_text(text, encoding="utf-8")
    with pytest.raises(Unusable, match="is unreadable"):
        store.read(CHAIN)


def test_not_utf8(store):
    store.path.write_bytes(b"\xff\xfe")
    with pytest.raises(Unusable, match="cannot read"):
        store.read(CHAIN)


def test_a_folder_that_is_not_there_is_an_oserror(tmp_path):
    with pytest.raises(OSError):
        Checkpoints.beside(tmp_path / "missing" / "aqb-audit.anchor").write(SAVED)


def test_the_written_file_holds_only_the_head(store):
    """A few bytes whatever the size of the log: nothing per agreement."""
    store.write(SAVED)
    assert json.loads(store.path.read_text(encoding="utf-8")) == {
        "chain": CHAIN,
        "seq": 7,
        "hash": "ab" * 32,
    }


def test_an_earlier_checkpoint_with_a_fold_still_resumes(store):
    """Files written before the fold was dropped keep their head; the fold is ignored."""
    old = {"chain": CHAIN, "seq": 7, "hash": "ab" * 32, "fold": {"2024-giessen": ["closed", 6]}}
    store.path.write_text(json.dumps(old), encoding="utf-8")
    assert store.read(CHAIN) == SAVED
