"""The verified-prefix file beside the anchor: round trip, folds read and written by agreement,
the advance only from the head it started at, and every unusable file said why."""

from __future__ import annotations

import json
import sqlite3

import pytest

from aqb_workflow.domain.audit import Head
from aqb_workflow.store.checkpoint import Checkpoint, Checkpoints, Unusable

CHAIN = "3f0c"
SAVED = Checkpoint(CHAIN, Head(7, "ab" * 32))
LATER = Checkpoint(CHAIN, Head(9, "cd" * 32))
FOLD = {"2024-giessen": ("closed", 6), "2024-kassel": ("drafted", 1)}


@pytest.fixture
def store(tmp_path):
    return Checkpoints.beside(tmp_path / "aqb-audit.anchor")


@pytest.fixture
def written(store):
    store.replace(SAVED, FOLD)
    return store


def sql(store, statement, *args):
    conn = sqlite3.connect(store.path, isolation_level=None)
    try:
        return conn.execute(statement, args).fetchall()
    finally:
        conn.close()


def test_it_lives_beside_the_anchor(store, tmp_path):
    assert store.path == tmp_path / "aqb-audit.anchor.verified"


def test_written_and_read_back_unchanged(written, tmp_path):
    assert written.read(CHAIN) == SAVED
    assert written.folds(sorted(FOLD)) == FOLD
    assert [p.name for p in tmp_path.iterdir()] == ["aqb-audit.anchor.verified"]  # no temp left


def test_folds_are_read_only_for_the_named_agreements(written):
    assert written.folds(["2024-kassel", "2024-fulda"]) == {"2024-kassel": ("drafted", 1)}
    assert written.folds([]) == {}


def test_folds_are_read_in_batches(store):
    many = {f"2024-{n:05}": ("drafted", 1) for n in range(1234)}
    store.replace(SAVED, many)
    assert store.folds(sorted(many)) == many


def test_advance_moves_the_head_and_changes_only_the_given_folds(written):
    assert written.advance(SAVED, LATER, {"2024-kassel": ("signed_by_ministry", 2)})
    assert written.read(CHAIN) == LATER
    assert written.folds(sorted(FOLD)) == {
        "2024-giessen": ("closed", 6),
        "2024-kassel": ("signed_by_ministry", 2),
    }
    assert written.advance(LATER, SAVED, {"2024-fulda": ("drafted", 1)})
    assert written.folds(["2024-fulda"]) == {"2024-fulda": ("drafted", 1)}


def test_advance_from_a_head_the_file_no_longer_holds_writes_nothing(written):
    """Two verifiers side by side: the one that resumed from an older head does not mix its
    folds into the newer ones."""
    assert written.advance(SAVED, LATER, {})
    assert not written.advance(SAVED, Checkpoint(CHAIN, Head(8, "ef" * 32)), {"2024-x": ("a", 1)})
    assert written.read(CHAIN) == LATER
    assert written.folds(["2024-x"]) == {}


def test_replace_drops_the_folds_it_is_not_given(written):
    written.replace(LATER, {"2024-fulda": ("drafted", 1)})
    assert written.read(CHAIN) == LATER
    assert written.folds([*sorted(FOLD), "2024-fulda"]) == {"2024-fulda": ("drafted", 1)}


def test_missing(store):
    with pytest.raises(Unusable, match="no verified prefix saved yet"):
        store.read(CHAIN)


def test_another_chains(written):
    with pytest.raises(Unusable, match=r"belongs to another database \(chain 3f0c\)"):
        written.read("other")


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "",
        # what the previous version wrote: its first run after the upgrade is a full one
        json.dumps({"chain": CHAIN, "seq": 7, "hash": "ab" * 32, "fold": {}}),
    ],
)
def test_not_a_checkpoint_file(store, text):
    store.path.write_text(text, encoding="utf-8")
    with pytest.raises(Unusable, match="is unreadable"):
        store.read(CHAIN)


def head(store):
    return store.read(CHAIN)


def folds(store):
    return store.folds(sorted(FOLD))


@pytest.mark.parametrize(
    "statement, read",
    [
        ("DELETE FROM head", head),
        ("INSERT INTO head VALUES ('3f0c', 8, '" + "ab" * 32 + "')", head),
        ("UPDATE head SET hash = 'x'", head),  # not a SHA-256
        ("UPDATE head SET seq = 2147483648", head),  # beyond any seq
        ("UPDATE head SET seq = -1", head),
        ("UPDATE head SET seq = 7.5", head),
        ("UPDATE head SET hash = 7", head),
        ("PRAGMA user_version = 3", head),
        ("DROP TABLE head", head),
        ("UPDATE fold SET events = 0", folds),
        ("UPDATE fold SET events = 1.5", folds),
        ("DROP TABLE fold", folds),
    ],
)
def test_a_changed_file_is_unreadable(written, statement, read):
    sql(written, statement)
    with pytest.raises(Unusable, match="is unreadable"):
        read(written)


def test_a_folder_that_is_not_there_is_an_oserror(tmp_path):
    store = Checkpoints(tmp_path / "missing" / "aqb-audit.anchor.verified")
    with pytest.raises(OSError):
        store.replace(SAVED, FOLD)


def test_the_file_gets_the_umask_permissions(store):
    store.replace(SAVED, FOLD)
    assert store.path.stat().st_mode & 0o077 == 0o644 & 0o077 & ~_umask()


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask
