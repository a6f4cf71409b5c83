"""`jobctl completion bash|zsh|fish`: a completion script, and the names it asks for.

The script is generated from the live click command tree, so commands and
options added later appear without edits here.  Commands, options and fixed
values are baked into the script: a Tab press on them runs no Python.  Only
queue and job type names, which live in jobs.toml, call back into
`jobctl completion --values queues|types`, which never fails loudly: a
prompt is no place for an error.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

import click

from jobctl.errors import InputError
from jobctl.models import State

SHELLS = ("bash", "zsh", "fish")
VALUES = ("queues", "types")

# What an option's or argument's value is, by how the command line names it.
_BY_NAME = {
    "--state": "states",
    "--queue": "queues",
    "--queues": "queues",
    "--type": "types",
    "--types": "types",
}
_ARG_BY_METAVAR = {"QUEUE": "queues", "[QUEUE]": "queues", "TYPE": "types", "[TYPE]": "types"}
_FILE_METAVARS = {"PATH", "FILE", "[FILE|-]", "FILE|-"}
# A metavar such as `text|json` or `[start|stop|restart]` lists the choices.
_CHOICES = re.compile(r"\[?([a-z][a-z0-9-]*(?:\|[a-z][a-z0-9-]*)+)\]?")


def run_completion(
    root: click.Group, shell: str | None, values: str | None, config: str | None
) -> int:
    """The `completion` command's body; `root` is the app's click group."""
    if values is not None:
        from jobctl.completion_values import print_values

        print_values(values, config)
        return 0
    if shell not in SHELLS:
        if shell is None:
            raise InputError("completion: give a shell: bash, zsh or fish")
        raise InputError(f'completion: "{shell}" is not bash, zsh or fish')
    tree = Tree(root)
    sys.stdout.write({"bash": bash_script, "zsh": zsh_script, "fish": fish_script}[shell](tree))
    return 0


# -- the command tree ------------------------------------------------------------


class Tree:
    """What the scripts need from the click tree, in plain lists."""

    def __init__(self, root: click.Group) -> None:
        self.global_options = list(_options(root))
        ctx = click.Context(root, info_name="jobctl")
        self.commands: dict[str, tuple[str, list[Opt], list[str | None]]] = {}
        for name in root.list_commands(ctx):
            command = root.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            args = [_argument_kind(p) for p in command.params if isinstance(p, click.Argument)]
            self.commands[name] = (_first_line(command.help), list(_options(command)), args)


class Opt:
    """An option: its names, its help, and what its value is (None: a flag)."""

    def __init__(self, names: list[str], help: str, kind: str | None) -> None:
        self.names, self.help, self.kind = names, help, kind


def _options(command: click.Command) -> Iterator[Opt]:
    for param in command.params:
        if not isinstance(param, click.Option) or param.hidden:
            continue
        names = [*param.opts, *param.secondary_opts]
        yield Opt(names, _first_line(param.help), None if param.is_flag else _option_kind(param))
    yield Opt(["--help", "-h"], "Show the help and exit.", None)


def _option_kind(param: click.Option) -> str:
    for name in param.opts:
        if name in _BY_NAME:
            return _BY_NAME[name]
    if isinstance(param.type, click.Choice):
        return "choice:" + " ".join(map(str, param.type.choices))
    metavar = param.metavar or ""
    if metavar in _FILE_METAVARS:
        return "files"
    if match := _CHOICES.fullmatch(metavar):
        return "choice:" + match.group(1).replace("|", " ")
    return "text"


def _argument_kind(param: click.Argument) -> str | None:
    metavar = param.metavar or ""
    if metavar in _ARG_BY_METAVAR:
        return _ARG_BY_METAVAR[metavar]
    if metavar in _FILE_METAVARS:
        return "files"
    if match := _CHOICES.fullmatch(metavar):
        return "choice:" + match.group(1).replace("|", " ")
    return None


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n", 1)[0].strip()


def _states() -> str:
    return " ".join(s.value for s in State)


# -- bash -------------------------------------------------------------------------

_BASH = r"""# bash completion for jobctl, from `jobctl completion bash` (jobctl @VERSION@).
# Names of queues and job types come from `jobctl completion --values`.

_jobctl_kind() {  # $1 command ('' before one), $2 option: what its value is; nothing: a flag
    case "$1 $2" in
@KINDS@
    esac
}

_jobctl_options() {
    case "$1" in
@OPTIONS@
    esac
}

_jobctl_argument() {  # $1 command, $2 which positional argument (0 is the first)
    case "$1 $2" in
@ARGS@
    esac
}

_jobctl_names() {  # $1 queues|types: from the jobs.toml this command line would read
    local self=${COMP_WORDS[0]} config=$_jobctl_config
    [[ $self == "~/"* ]] && self=$HOME/${self#"~/"}
    [[ $config == "~/"* ]] && config=$HOME/${config#"~/"}
    if [[ -n $config ]]; then
        "$self" completion --values "$1" --config "$config" 2>/dev/null
    else
        "$self" completion --values "$1" 2>/dev/null
    fi
}

_jobctl_reply() {  # $1 kind, $2 the text so far
    local kind=$1 cur=$2 word quoted
    local -a words=()
    # No mapfile nor `read -a`: zsh runs these functions too (see the zsh script).
    case $kind in
        states) words=(@STATES@) ;;
        choice:*) for word in ${kind#choice:}; do words+=("$word"); done ;;
        queues|types)
            while IFS= read -r word; do words+=("$word"); done < <(_jobctl_names "$kind") ;;
        files) compopt -o default 2>/dev/null; return ;;
        *) return ;;
    esac
    # Matched by hand, not with `compgen -W`, which would expand $(...) in a name.
    local trim=
    [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]] && trim=${cur%"${cur##*:}"}
    for word in "${words[@]}"; do
        if [[ $word == "$cur"* ]]; then
            word=${word#"$trim"}
            printf -v quoted %q "$word"
            COMPREPLY+=("$quoted")
        fi
    done
}

_jobctl() {
    COMPREPLY=()
    # Glue back what COMP_WORDBREAKS split: `--config=x` and `email:send` are one word.
    local -a words=()
    local i w n=-1 glue=0
    for ((i = 0; i <= COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if ((n >= 0)) && { [[ $w =~ ^[:=]+$ ]] || ((glue)); }; then
            words[n]+=$w
        else
            words[++n]=$w
        fi
        [[ $w =~ ^[:=]+$ ]] && glue=1 || glue=0
    done
    # _jobctl_config: local, yet seen by _jobctl_names (bash scopes dynamically).
    local cur=${words[n]} command= kind= position=0 _jobctl_config=
    for ((i = 1; i < n; i++)); do
        w=${words[i]}
        [[ $w == -- ]] && return  # a command to run follows: the shell's own completion
        case $w in
            --config=*) _jobctl_config=${w#--config=} ;;
            --config) _jobctl_config=${words[i + 1]} ;;
        esac
        if [[ $w == -* ]]; then
            [[ $w != *=* && -n $(_jobctl_kind "$command" "$w") ]] && ((i++))
        elif [[ -z $command ]]; then
            command=$w
        else
            ((position++))
        fi
    done
    if [[ $cur == --*=* ]]; then
        kind=$(_jobctl_kind "$command" "${cur%%=*}")
        _jobctl_reply "$kind" "${cur#*=}"
        return
    fi
    if ((n > 1)) && [[ ${words[n - 1]} == -* && ${words[n - 1]} != *=* ]]; then
        kind=$(_jobctl_kind "$command" "${words[n - 1]}")
        if [[ -n $kind ]]; then
            _jobctl_reply "$kind" "$cur"
            return
        fi
    fi
    if [[ $cur == -* ]]; then
        for w in $(_jobctl_options "$command"); do
            [[ $w == "$cur"* ]] && COMPREPLY+=("$w")
        done
    elif [[ -z $command ]]; then
        for w in @COMMANDS@; do
            [[ $w == "$cur"* ]] && COMPREPLY+=("$w")
        done
    else
        _jobctl_reply "$(_jobctl_argument "$command" "$position")" "$cur"
    fi
}

complete -F _jobctl jobctl
"""


def bash_script(tree: Tree) -> str:
    kinds, options, args = [], [], []
    scopes: list[tuple[str, list[Opt]]] = [("", tree.global_options)]
    scopes += [(name, opts) for name, (_, opts, _) in tree.commands.items()]
    for scope, opts in scopes:
        for opt in opts:
            if opt.kind is not None:
                patterns = "|".join(_bash_word(f"{scope} {name}") for name in opt.names)
                kinds.append(f"        {patterns}) echo {_bash_word(opt.kind)} ;;")
        words = " ".join(name for opt in opts for name in opt.names)
        options.append(f"        {_bash_word(scope)}) echo {_bash_word(words)} ;;")
    for name, (_, _, kinds_of_args) in tree.commands.items():
        for position, kind in enumerate(kinds_of_args):
            if kind is not None:
                args.append(
                    f"        {_bash_word(f'{name} {position}')}) echo {_bash_word(kind)} ;;"
                )
    return (
        _BASH.replace("@VERSION@", _version())
        .replace("@KINDS@", "\n".join(kinds) or "        *) ;;")
        .replace("@OPTIONS@", "\n".join(options))
        .replace("@ARGS@", "\n".join(args) or "        *) ;;")
        .replace("@STATES@", _states())
        .replace("@COMMANDS@", " ".join(map(_bash_word, tree.commands)))
    )


def _bash_word(text: str) -> str:
    # Single quotes: nothing inside is special; a quote itself closes and reopens.
    return "'" + text.replace("'", "'\\''") + "'"


# -- zsh ----------------------------------------------------------------------------

_ZSH = """#compdef jobctl
# zsh completion for jobctl, from `jobctl completion zsh` (jobctl @VERSION@).
# zsh runs the bash completion through its bashcompinit layer: one set of
# rules for both shells.

autoload -U +X compinit && { (( $+functions[compdef] )) || compinit }
autoload -U +X bashcompinit && bashcompinit

"""


def zsh_script(tree: Tree) -> str:
    return _ZSH.replace("@VERSION@", _version()) + bash_script(tree)


# -- fish ---------------------------------------------------------------------------

_FISH = """# fish completion for jobctl, from `jobctl completion fish` (jobctl @VERSION@).

function __jobctl_names --argument-names which
    # The --config on the command line, if any: names come from that jobs.toml.
    set -l words (commandline -opc)
    set -l args completion --values $which
    for i in (seq (count $words))
        if test "$words[$i]" = --config; and test $i -lt (count $words)
            set args $args --config $words[(math $i + 1)]
        else if string match -q -- '--config=*' $words[$i]
            set args $args --config (string replace -- '--config=' '' $words[$i])
        end
    end
    command -q -- $words[1]; or return  # a typo at the prompt: no names, no error
    $words[1] $args 2>/dev/null
end

complete -c jobctl -f
"""


def fish_script(tree: Tree) -> str:
    lines = [_FISH.replace("@VERSION@", _version())]
    before = "__fish_use_subcommand"
    for opt in tree.global_options:
        lines.append(_fish_option(before, opt))
    for name, (help, opts, args) in tree.commands.items():
        lines.append(f"complete -c jobctl -n {before} -a {_fish_word(name)} -d {_fish_word(help)}")
        seen = f"'__fish_seen_subcommand_from {name}'"
        for opt in opts:
            lines.append(_fish_option(seen, opt))
        if args and args[0] is not None:
            values = _fish_values(args[0])
            lines.append(
                f"complete -c jobctl -n {seen} {'' if args[0] == 'files' else '-f '}{values}"
            )
    return "\n".join(lines) + "\n"


def _fish_option(condition: str, opt: Opt) -> str:
    parts = [f"complete -c jobctl -n {condition}"]
    for name in opt.names:
        parts.append(f"-l {name[2:]}" if name.startswith("--") else f"-s {name[1:]}")
    if opt.help:
        parts.append(f"-d {_fish_word(opt.help)}")
    if opt.kind is not None:
        # -x: a value, and no file names unless the value is one (-F).
        parts += ["-r -F"] if opt.kind == "files" else ["-x", _fish_values(opt.kind)]
    return " ".join(p for p in parts if p)


def _fish_values(kind: str) -> str:
    if kind == "states":
        return f"-a {_fish_word(_states())}"
    if kind.startswith("choice:"):
        return f"-a {_fish_word(kind[7:])}"
    if kind in VALUES:
        return f"-a '(__jobctl_names {kind})'"
    if kind == "files":
        return "-F"
    return ""


def _fish_word(text: str) -> str:
    # In fish single quotes only \\ and \\' are special.
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _version() -> str:
    from jobctl.cli import version

    return version()
