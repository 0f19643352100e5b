"""Click's usage errors as one German line: ``aqb create: fehlende Option --district``.

Click prints a block ("Usage: …", "Try … --help", "Error: …") in English. A person needs the one
line that says what is wrong and where help is; the full usage stays one ``--help`` away.
"""

from __future__ import annotations

import re

import click

_NUMBER_TYPES = {"integer": "keine ganze Zahl", "float": "keine Zahl", "boolean": "kein ja/nein"}
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^Missing argument '(.+)'\.$"), "fehlendes Argument {0}"),
    (re.compile(r"^Missing option '(.+?)'(?: / '.+')*\.$"), "fehlende Option {0}"),
    (re.compile(r"^Missing parameter: (.+)$"), "fehlende Angabe {0}"),
    (re.compile(r"^Missing command\.$"), "Befehl fehlt"),
    (re.compile(r"^No such command '(.+)'\.$"), "unbekannter Befehl {0!r}"),
    (re.compile(r"^No such option:? '?([^'.]+)'?\.?$"), "unbekannte Option {0}"),
    (re.compile(r"^Option '(.+)' requires an argument\.$"), "Option {0} braucht einen Wert"),
    (re.compile(r"^Got unexpected extra arguments? \((.+)\)$"), "unerwartete Angabe: {0}"),
    (re.compile(r"^Option '(.+)' does not take a value\.$"), "Option {0} nimmt keinen Wert"),
]
_INVALID = re.compile(r"^Invalid value for '(.+?)': (.+)$", re.S)
_NOT_NUMBER = re.compile(r"^'(.*)' is not a valid (integer|float|boolean)\b.*$", re.S)
_NOT_CHOICE = re.compile(r"^'(.*)' is not one of (.+)\.$", re.S)
_DID_YOU_MEAN = re.compile(r"\s*\(?Did you mean (?:one of: )?(.+?)\??\)?$")


def german(message: str) -> str:
    """Click's English message in German; one it does not know stays as it is."""
    message = " ".join(message.split())
    hint = ""
    found = _DID_YOU_MEAN.search(message)
    if found:
        hint = f" (meinten Sie {found[1]}?)"
        message = message[: found.start()].strip()
    invalid = _INVALID.match(message)
    if invalid:
        return f"ungültiger Wert für {invalid[1]}: {_value_problem(invalid[2])}{hint}"
    for pattern, german_form in _PATTERNS:
        matched = pattern.match(message)
        if matched:
            return german_form.format(*matched.groups()) + hint
    return message + hint


def _value_problem(text: str) -> str:
    number = _NOT_NUMBER.match(text)
    if number:
        return f"{number[1]!r} ist {_NUMBER_TYPES[number[2]]}"
    choice = _NOT_CHOICE.match(text)
    if choice:
        return f"{choice[1]!r} gibt es nicht; möglich: {choice[2].replace(chr(39), '')}"
    return text


def one_line(exc: click.ClickException) -> str:
    """``aqb show: fehlendes Argument KEY (Hilfe: aqb show --help)``."""
    ctx = getattr(exc, "ctx", None)
    where = ctx.command_path if ctx is not None else "aqb"
    if isinstance(exc, click.exceptions.NoArgsIsHelpError) and isinstance(
        exc.ctx.command, click.Group
    ):
        commands = ", ".join(exc.ctx.command.list_commands(exc.ctx))  # a group, no command
        return f"{where}: Befehl fehlt; möglich: {commands} (Hilfe: {where} --help)"
    text = german(exc.format_message())
    if isinstance(exc, click.UsageError):
        return f"{where}: {text} (Hilfe: {where} --help)"
    return f"{where}: {text}"
