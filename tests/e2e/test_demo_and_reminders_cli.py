"""``make demo``'s script end to end, and the reminder commands as staff type them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

from tests.conftest import REPO
from tests.paths import bring_to


def test_demo_walks_giessen_and_leaves_reminders_as_eml_files(tmp_path):
    env = {**os.environ, "DEMO_DIR": str(tmp_path / "demo")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    env.pop("AQB_CONFIG", None)
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "demo.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "autumn_review -> closed" in proc.stdout
    assert "audit chain ok" in proc.stdout
    files = sorted((tmp_path / "demo" / "outbox").glob("*.eml"))
    assert len(files) == 2
    mails = [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    texts = [m.get_body(("plain",)).get_content() for m in mails]
    assert any("Wetteraukreis" in t and "1.140.300,00 €" in t for t in texts)
    assert {m["To"] for m in mails} == {"aqb@wetterau.example", "aqb@hmsi.example"}


def test_reminders_list_preview_send_due_and_status(app, workspace, cli):
    cli("contact add --district giessen --role district --name 'Petra Muster' --email pm@x.example")
    key = bring_to(app, "signed_by_ministry")
    due = json.loads(cli("reminders list --due --json").stdout)
    assert {r["kind"] for r in due} == {
        "district_signature_pending",
        "district_signature_escalation",
    }
    first = next(r for r in due if r["kind"] == "district_signature_pending")
    preview = cli(f"reminders preview {first['id']}").stdout
    assert "To: pm@x.example" in preview
    assert "Landkreis Gießen" in preview and "1.266.800,00 €" in preview
    # the district signs on paper: what to send to whom by when, never a staff command
    assert f"aqb transition {key} sign_district" not in preview and "aqb " not in preview
    assert "an das AQB-Referat" in preview
    # the escalation goes to the ministry desk, which has no contact yet: it fails, visibly
    result = cli("reminders send-due", expect=1)
    assert "1 sent" in result.stdout and "failed" in result.stdout
    failed = json.loads(cli("reminders list --failed --json").stdout)
    # ... and so does the report of that failure to the desk; it is not escalated again
    assert sorted(r["kind"] for r in failed) == ["delivery_failed", "district_signature_escalation"]
    status = cli("daemon status", expect=1)
    assert "not running" in status.stdout and "2 failed" in status.stdout
    cli("contact add --role ministry_desk --name AQB-Referat --email aqb@hmsi.example")
    for row in failed:
        assert "queued again" in cli(f"reminders retry {row['id']}").stdout
    assert "is pending" in cli(f"reminders retry {failed[0]['id']}", expect=1).stderr
    assert "2 sent" in cli("reminders send-due").stdout
    assert len(list((workspace.root / "outbox").glob("*.eml"))) == 3
    cli("audit verify")
