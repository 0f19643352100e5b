"""``make demo``'s script end to end, and the reminder commands as staff type them."""

from __future__ import annotations

import json
import os
import shlex
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
    _printed_commands_can_be_pasted(proc.stdout, tmp_path / "demo")
    assert "audit chain ok" in proc.stdout
    # the latest due countersignature reminder; its escalation to the desk waits 21 days
    files = sorted((tmp_path / "demo" / "outbox").glob("*.eml"))
    assert len(files) == 1
    mails = [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    texts = [m.get_body(("plain",)).get_content() for m in mails]
    assert any("Wetteraukreis" in t and "1.140.300,00 €" in t for t in texts)
    assert {m["To"] for m in mails} == {"aqb@wetterau.example"}


def _printed_commands_can_be_pasted(output: str, demo: Path) -> None:
    """Every ``$ `` line is valid shell that reads back as the words the demo ran."""
    lines = [line[2:] for line in output.splitlines() if line.startswith("$ ")]
    assert len(lines) > 15
    for line in lines:
        check = subprocess.run(["bash", "-n", "-c", line], capture_output=True, text=True)
        assert check.returncode == 0, (line, check.stderr)
        words = shlex.split(line)
        assert shlex.split(shlex.join(words)) == words
        assert not any(w.startswith("AQB_ACTOR=") for w in words), line
    create = next(shlex.split(line) for line in lines if line.startswith("aqb create"))
    assert create[:4] == ["aqb", "create", "--district", "Landkreis Gießen"]
    sign = next(shlex.split(line) for line in lines if "sign_district" in line)
    assert "by=Anita Schneider" in sign and sign[-2:] == ["--actor", "giessen"]
    export = shlex.split(lines[0])
    assert export[0] == "export" and export[1] == f"AQB_CONFIG={demo / 'config.toml'}"
    # pasted into bash after the export line, a printed command runs as printed
    shown = subprocess.run(
        [
            "bash",
            "-c",
            f"{lines[0]}\n{next(line for line in lines if line.startswith('aqb show'))}",
        ],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("AQB_")},
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "Landkreis Gießen" in shown.stdout and "Abgeschlossen" in shown.stdout


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
    # the Wetteraukreis has no contact: its reminder fails, visibly, and so does the report of
    # that failure to the desk, which has no contact yet either; neither stops Gießen's
    bring_to(app, "signed_by_ministry", district="wetterau")
    result = cli("reminders send-due", expect=1)
    assert "1 sent" in result.stdout and "2 failed" in result.stdout
    failed = {r["kind"]: r for r in json.loads(cli("reminders list --failed --json").stdout)}
    assert sorted(failed) == ["delivery_failed", "district_signature_pending"]
    assert failed["district_signature_pending"]["agreement"] == "2024-wetterau"
    status = cli("daemon status", expect=1)
    assert "läuft nicht" in status.stdout and "2 fehlgeschlagen" in status.stdout
    cli("contact add --role ministry_desk --name AQB-Referat --email aqb@hmsi.example")
    cli("contact add --district wetterau --role district --name AQB --email aqb@wk.example")
    reminder, report = failed["district_signature_pending"], failed["delivery_failed"]
    assert "sent" in cli(f"reminders retry {reminder['id']}").stdout
    # the report is about a reminder delivered meanwhile: not sent
    assert "delivered since" in cli(f"reminders retry {report['id']}").stdout
    assert "is sent" in cli(f"reminders retry {reminder['id']}", expect=1).stderr
    assert "0 sent" in cli("reminders send-due").stdout  # the escalations wait 21 days
    assert len(list((workspace.root / "outbox").glob("*.eml"))) == 2
    cli("audit verify")
