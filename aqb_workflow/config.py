"""``config.toml`` -> frozen, typed settings. Unknown keys are errors naming file and key.

Which file: ``AQB_CONFIG``, else ``config.toml`` in the current folder. ``AQB_DATABASE_URL``
overrides ``database.url``. Relative paths (SQLite files, the anchor, the workflow, templates,
the mail folder) resolve against the config file's folder, not the current one. Without
``[workflow] file`` or ``[templates] folder`` the workflow and the German templates shipped
inside the package are used (``aqb_workflow/states``, ``aqb_workflow/notifications``).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aqb_workflow.errors import ConfigError

PACKAGE_DATA = Path(__file__).with_name("data")
PACKAGED_WORKFLOW = Path(__file__).with_name("states") / "agreement.toml"
"""The default workflow, shipped inside the package (the repository's ``states/``)."""
PACKAGED_TEMPLATES = Path(__file__).with_name("notifications")
"""The default German templates, shipped inside the package (the repository's
``notifications/``)."""

# section -> key -> (type, default); a nested dict is a sub-table
_SCHEMA: dict[str, dict[str, Any]] = {
    "database": {"url": (str, "sqlite:///aqb.db"), "busy_timeout_ms": (int, 30_000)},
    "audit": {"anchor": (str, "aqb-audit.anchor")},
    "workflow": {"file": (str, "")},
    "registry": {"file": (str, "")},
    "time": {"zone": (str, "Europe/Berlin")},
    "templates": {"folder": (str, "")},
    "mail": {
        "backend": (str, "file"),
        "sender": (str, "AQB-Referat HMSI <aqb@hmsi.hessen.de>"),
        "smtp": {
            "host": (str, "localhost"),
            "port": (int, 25),
            "security": (str, "none"),
            "username": (str, ""),
            "password_env": (str, ""),
            "timeout_seconds": (int, 30),
        },
        "file": {"folder": (str, "outbox")},
    },
    "daemon": {
        "interval_seconds": (int, 60),
        "heartbeat": (str, "aqb-daemon.heartbeat"),
        "overdue_grace_minutes": (int, 30),
    },
    "calendar": {"subdivision": (str, "HE"), "closure_days": (list, ["12-24", "12-31"])},
    "reminders": {
        "send_at": (str, "08:00"),
        "retry_minutes": (list, [1, 5, 15, 30, 60]),
        "give_up_hours": (int, 72),
    },
}
_ROLE = re.compile(r"^(ministry|rp_kassel|admin|viewer|district:[a-z0-9]+(-[a-z0-9]+)*)$")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str
    username: str
    password_env: str
    timeout_seconds: int


@dataclass(frozen=True)
class Settings:
    path: Path
    database_url: str
    busy_timeout_ms: int
    anchor: Path
    workflow_file: Path
    registry_file: Path
    zone: ZoneInfo
    templates: Path
    mail_backend: str
    mail_sender: str
    smtp: SmtpSettings
    mail_folder: Path
    daemon_interval_seconds: int
    heartbeat: Path
    subdivision: str
    closure_days: tuple[tuple[int, int], ...]
    send_at: tuple[int, int]
    retry_minutes: tuple[int, ...]
    give_up_hours: int
    users: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: ``aqb daemon status`` exits 1 once an undelivered reminder is overdue by more than this
    overdue_grace_minutes: int = 30

    @property
    def folder(self) -> Path:
        return self.path.parent


def _typed(source: str, section: str, schema: dict[str, Any], raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: [{section}] must be a table")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in schema:
            raise ConfigError(f"{source}: unknown key {section}.{key}")
        if isinstance(schema[key], dict):
            out[key] = _typed(source, f"{section}.{key}", schema[key], value)
            continue
        expected, _default = schema[key]
        if not isinstance(value, expected) or isinstance(value, bool) != (expected is bool):
            raise ConfigError(f"{source}: {section}.{key} must be a {expected.__name__}")
        out[key] = value
    for key, spec in schema.items():
        if key not in out:
            out[key] = (
                _typed(source, f"{section}.{key}", spec, {}) if isinstance(spec, dict) else spec[1]
            )
    return out


def resolve_sqlite_url(url: str, folder: Path) -> str:
    """``sqlite:///aqb.db`` is relative to the config folder; ``sqlite:////abs`` is absolute."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        rest = url[len(prefix) :]
        if rest and not rest.startswith(":memory:"):
            return prefix + str((folder / rest).resolve())
    return url


def config_path() -> Path:
    env = os.environ.get("AQB_CONFIG")
    path = Path(env) if env else Path.cwd() / "config.toml"
    if not path.is_file():
        hint = "AQB_CONFIG points to" if env else "no config.toml in the current folder:"
        raise ConfigError(f"{hint} {path} (set AQB_CONFIG or run where config.toml is)")
    return path.resolve()


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """Parse a TOML file; any problem is one line naming the file (and line, when known)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{what} {path}: {exc.strerror}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _definitions(source: str, folder: Path, values: dict[str, Any]) -> tuple[Path, Path]:
    """The workflow file and the templates folder: as named (relative to the config file's
    folder), else the ones shipped in the package. A named one must exist."""
    named_file, named_folder = values["workflow"]["file"], values["templates"]["folder"]
    workflow_file = folder / named_file if named_file else PACKAGED_WORKFLOW
    templates = folder / named_folder if named_folder else PACKAGED_TEMPLATES
    if not workflow_file.is_file():
        raise ConfigError(f"{source}: workflow.file: {workflow_file} does not exist")
    if not templates.is_dir():
        raise ConfigError(f"{source}: templates.folder: {templates} is not a folder")
    return workflow_file, templates


def load_settings(path: Path | None = None) -> Settings:
    path = path or config_path()
    source = str(path)
    data = read_toml(path, "config")
    for section in data:
        if section not in _SCHEMA and section != "users":
            raise ConfigError(f"{source}: unknown section [{section}]")
    values = {s: _typed(source, s, spec, data.get(s, {})) for s, spec in _SCHEMA.items()}
    folder = path.parent

    users_raw = data.get("users", {})
    if not isinstance(users_raw, dict):
        raise ConfigError(f"{source}: [users] must be a table of login = [roles]")
    users: dict[str, tuple[str, ...]] = {}
    for login, roles in users_raw.items():
        roles = [roles] if isinstance(roles, str) else roles
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise ConfigError(f"{source}: users.{login} must be a role or a list of roles")
        for role in roles:
            if not _ROLE.match(role):
                raise ConfigError(
                    f"{source}: users.{login}: unknown role {role!r} "
                    "(ministry, rp_kassel, admin, viewer, district:<slug>)"
                )
        users[login] = tuple(roles)

    mail = values["mail"]
    if mail["backend"] not in ("smtp", "file", "console"):
        raise ConfigError(f"{source}: mail.backend must be smtp, file or console")
    if mail["smtp"]["security"] not in ("none", "starttls", "tls"):
        raise ConfigError(f"{source}: mail.smtp.security must be none, starttls or tls")
    try:
        zone = ZoneInfo(values["time"]["zone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{source}: time.zone: unknown time zone {values['time']['zone']!r}"
        ) from None
    if values["daemon"]["interval_seconds"] < 1:
        raise ConfigError(f"{source}: daemon.interval_seconds must be at least 1")
    if values["daemon"]["overdue_grace_minutes"] < 0:
        raise ConfigError(f"{source}: daemon.overdue_grace_minutes must not be negative")
    if values["database"]["busy_timeout_ms"] < 0:
        raise ConfigError(f"{source}: database.busy_timeout_ms must not be negative")

    closure = []
    for item in values["calendar"]["closure_days"]:
        m = re.fullmatch(r"(\d{2})-(\d{2})", item) if isinstance(item, str) else None
        if not m or not (1 <= int(m[1]) <= 12 and 1 <= int(m[2]) <= 31):
            raise ConfigError(f"{source}: calendar.closure_days: {item!r} is not MM-DD")
        closure.append((int(m[1]), int(m[2])))
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", values["reminders"]["send_at"])
    if not m or int(m[1]) > 23 or int(m[2]) > 59:
        raise ConfigError(f"{source}: reminders.send_at must be HH:MM, e.g. 08:00")
    retries = values["reminders"]["retry_minutes"]
    if not retries or not all(
        isinstance(r, int) and not isinstance(r, bool) and r > 0 for r in retries
    ):
        raise ConfigError(f"{source}: reminders.retry_minutes must be positive whole minutes")
    if values["reminders"]["give_up_hours"] < 1:
        raise ConfigError(f"{source}: reminders.give_up_hours must be at least 1")

    url = os.environ.get("AQB_DATABASE_URL") or values["database"]["url"]
    registry = values["registry"]["file"]
    workflow_file, templates = _definitions(source, folder, values)
    return Settings(
        path=path,
        database_url=resolve_sqlite_url(url, folder),
        busy_timeout_ms=values["database"]["busy_timeout_ms"],
        anchor=folder / values["audit"]["anchor"],
        workflow_file=workflow_file,
        registry_file=folder / registry
        if registry
        else PACKAGE_DATA / "gebietskoerperschaften.toml",
        zone=zone,
        templates=templates,
        mail_backend=mail["backend"],
        mail_sender=mail["sender"],
        smtp=SmtpSettings(**mail["smtp"]),
        mail_folder=folder / mail["file"]["folder"],
        daemon_interval_seconds=values["daemon"]["interval_seconds"],
        heartbeat=folder / values["daemon"]["heartbeat"],
        subdivision=values["calendar"]["subdivision"],
        closure_days=tuple(closure),
        send_at=(int(m[1]), int(m[2])),
        retry_minutes=tuple(retries),
        give_up_hours=values["reminders"]["give_up_hours"],
        users=users,
        overdue_grace_minutes=values["daemon"]["overdue_grace_minutes"],
    )
