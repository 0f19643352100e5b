"""An import is one transaction: a failure at any step writes nothing at all."""

from __future__ import annotations

import pytest

from aqb_workflow import services
from aqb_workflow.documents import importer
from aqb_workflow.documents.import_ import parse_agreement
from aqb_workflow.verify import verify
from tests.conftest import MINISTRY, SEED


class PowerCut(Exception):
    pass


# the second measure, the second signature, the last write (the ``imported`` event)
@pytest.mark.parametrize("fail_at", ["_add_measure", "fire_in", "record", "nothing"])
def test_import_commits_all_or_nothing(fail_at, app, workspace, monkeypatch):
    data = SEED.read_bytes()
    extracted = parse_agreement(data.decode("utf-8"), app.registry)
    before = workspace.snapshot()
    if fail_at != "nothing":
        real = getattr(services, fail_at)
        calls = {"n": 0}

        def failing(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == (13 if fail_at == "record" else 2):
                raise PowerCut(fail_at)
            return real(*args, **kwargs)

        monkeypatch.setattr(services, fail_at, failing)
        with pytest.raises(PowerCut):
            importer.import_agreement(app, MINISTRY, extracted, importer.sha256(data), "seed")
        assert workspace.snapshot() == before
        return
    key, state = importer.import_agreement(app, MINISTRY, extracted, importer.sha256(data), "seed")
    assert (key, state) == ("2024-giessen", "signed_by_district")
    assert len(services.current(app, key).measures) == 10
    assert verify(app).checked == 1 + 10 + 2 + 1  # created, measures, two signatures, imported
