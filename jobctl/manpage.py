"""`jobctl man`: the manual page, in roff (man(7) macros), from the click help texts.

Built from the live command tree at run time, so it says what `--help`
says, and a command or option added later is in it without edits here.
"""

from __future__ import annotations

import inspect
import sys

import click

_SEE_ALSO = "The README of jobctl: the jobs.toml format, exit codes and JSON output."


def run_man(root: click.Group) -> int:
    """The `man` command's body; `root` is the app's click group."""
    sys.stdout.write(man_page(root))
    return 0


def man_page(root: click.Group) -> str:
    from jobctl.cli import version

    ctx = click.Context(root, info_name="jobctl")
    out = [
        f'.TH JOBCTL 1 "" "jobctl {_text(version())}" "User Commands"',
        ".SH NAME",
        r"jobctl \- " + _text(_paragraphs(root.help)[0].split(". ", 1)[0].rstrip(".")),
        ".SH SYNOPSIS",
        r".B jobctl",
        r"[\fIGLOBAL OPTIONS\fR] \fICOMMAND\fR [\fIOPTIONS\fR] [\fIARGUMENTS\fR]",
        ".SH DESCRIPTION",
        *_body(root.help),
        ".PP",
        _text("Every command takes --help (or -h), which prints what this page says about it."),
        ".SH GLOBAL OPTIONS",
        *_options(root, ctx),
        ".SH COMMANDS",
    ]
    for name in root.list_commands(ctx):
        command = root.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        sub = click.Context(command, info_name=name, parent=ctx)
        usage = " ".join(command.collect_usage_pieces(sub))
        out += [".SS " + _text(name), rf"\fBjobctl {_text(name)}\fR {_text(usage)}"]
        out += [".PP", *_body(command.help)]
        options = list(_options(command, sub))
        if options:
            out += [".PP", "Options:", ".RS", *options, ".RE"]
        if command.epilog:
            out += [".PP", *_body(command.epilog)]
    out += [".SH SEE ALSO", _text(_SEE_ALSO), ""]
    return "\n".join(out)


def _options(command: click.Command, ctx: click.Context) -> list[str]:
    lines = []
    for param in command.params:
        if not isinstance(param, click.Option) or param.hidden:
            continue
        names = ", ".join(rf"\fB{_text(n)}\fR" for n in [*param.opts, *param.secondary_opts])
        if not param.is_flag:
            metavar = param.metavar or param.type.get_metavar(param, ctx) or param.name.upper()
            names += rf" \fI{_text(metavar)}\fR"
        help = " ".join((param.help or "").split())
        default = param.default
        if not param.is_flag and default not in (None, "", ()) and not callable(default):
            help = (help + f" Default: {default}.").strip()
        lines += [".TP", names, _text(help) if help else r"\&"]
    return lines


def _paragraphs(text: str | None) -> list[str]:
    cleaned = inspect.cleandoc(text or "")
    return [p for p in cleaned.split("\n\n") if p.strip()] or [""]


def _body(text: str | None) -> list[str]:
    """Paragraphs as .PP blocks; click's "\\b" paragraphs keep their lines (.nf)."""
    lines: list[str] = []
    for paragraph in _paragraphs(text):
        if lines:
            lines.append(".PP")
        if paragraph.startswith("\b"):
            kept = paragraph[1:].strip("\n").split("\n")
            lines += [".nf", *(_text(line) for line in kept), ".fi"]
        else:
            lines.append(_text(" ".join(paragraph.split())))
    return lines


def _text(text: str) -> str:
    """One line of running text, safe in roff.

    A backslash would start an escape, a `.` or `'` at the start of a line
    a request; `-` is written `\\-` so that options and examples copy as the
    ASCII hyphen-minus rather than a typographic hyphen.
    """
    text = text.replace("\\", r"\e").replace("-", r"\-")
    if text.startswith((".", "'")):
        text = r"\&" + text
    return text
