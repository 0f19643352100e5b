"""The verified-prefix file beside the anchor: round trip, folds read and written by agreement,
the advance only from the head it started at, and every unusable file said why."""

from __future__ import annotations

import json
import os
import sqlite3
import threading

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
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_replace_rewrites_a_usable_file_in_place(written):
    inode = written.path.stat().st_ino
    written.replace(LATER, {"2024-fulda": ("drafted", 1)})
    assert written.path.stat().st_ino == inode  # one transaction, SQLite's journal keeps it whole
    assert written.read(CHAIN) == LATER


def test_replace_puts_a_new_file_over_one_it_cannot_use(store):
    store.path.write_text("not a checkpoint", encoding="utf-8")
    store.replace(SAVED, FOLD)
    assert store.read(CHAIN) == SAVED and store.folds(sorted(FOLD)) == FOLD


def killed_inside_advance(store, keys):
    """A verifier killed half-way through ``advance``: pages already changed, a hot journal."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child dies inside its transaction
        conn = sqlite3.connect(store.path, isolation_level=None)
        conn.execute("PRAGMA cache_size=2")  # spill changed pages into the file early
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE head SET seq = 20")
        conn.executemany(
            "UPDATE fold SET state = 'signed', events = 2 WHERE agreement = ?",
            [(key,) for key in keys],
        )
        os._exit(9)
    os.waitpid(pid, 0)
    assert store.path.with_name(store.path.name + "-journal").exists()


MANY = {f"2024-{n:05}": ("drafted", 1) for n in range(3000)}


def test_a_writer_killed_inside_advance_leaves_the_head_it_started_from(store):
    store.replace(SAVED, MANY)
    killed_inside_advance(store, list(MANY)[:2500])
    assert store.read(CHAIN) == SAVED
    assert store.folds(sorted(MANY)) == MANY


def test_a_full_run_after_a_killed_writer_holds_exactly_what_it_wrote(store):
    store.replace(SAVED, MANY)
    killed_inside_advance(store, list(MANY)[:2500])
    later = {key: ("closed", 3) for key in MANY}
    store.replace(LATER, later)
    assert store.read(CHAIN) == LATER
    assert store.folds(sorted(later)) == later
    assert not store.path.with_name(store.path.name + "-journal").exists()


def test_verifiers_take_turns(store):
    """While one holds the checkpoint, another waits for it, then goes on."""
    entered = threading.Event()
    with store.serialized():
        waiter = threading.Thread(target=lambda: _enter(store, entered))
        waiter.start()
        assert not entered.wait(0.3)
    waiter.join(5)
    assert entered.is_set()


def _enter(store, entered):
    with store.serialized():
        entered.set()
