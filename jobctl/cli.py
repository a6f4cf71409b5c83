"""The typer app: parse, call one API method, render, map errors to exit codes.

No SQL and no job logic here.  `run()` calls click in non-standalone mode so
that usage errors come back as exceptions, which become one line on stderr
and exit status 2.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Annotated

import click
import typer

from jobctl import api, limits, type_globs
from jobctl.add_command import AddRequest, run_add
from jobctl.config import describe, find_config, load_config
from jobctl.errors import ConfigError, InputError
from jobctl.fastadd import command_index
from jobctl.models import FINISHED, Job
from jobctl.render import Output, json_text, printable_output, safe, shorten
from jobctl.store import describe_db

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Background jobs for one host, in one SQLite file.  Global: --debug shows tracebacks.",
)

DbOption = Annotated[
    str | None, typer.Option("--db", metavar="PATH", help="Database file (default: see README).")
]
ConfigOption = Annotated[
    str | None, typer.Option("--config", metavar="PATH", help="jobs.toml to use.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (schema in the README).")]
_TYPE_HELP = "Only job types these shell globs match (`-`: ad hoc commands)."
# `--label X` on ls, retry, cancel and purge: repeated, a job must have them all.
LabelFilter = Annotated[
    list[str] | None,
    typer.Option("--label", metavar="LABEL", help="Only jobs with this label (all, if repeated)."),
]


class _ReaderGone(Exception):
    """A BrokenPipeError on its way through typer (see run())."""


def run(args: list[str]) -> int:
    """Run the app on `args`; the exit status.  JobctlErrors propagate to __main__."""
    command = typer.main.get_command(app)
    # click would treat what follows `--` as more positionals; `add` wants it
    # as the command to run, so it travels apart, in ctx.obj.
    tail: list[str] | None = None
    at = command_index(args)
    if args[at : at + 1] == ["add"] and "--" in args[at:]:
        cut = args.index("--", at)
        args, tail = args[:cut], args[cut + 1 :]
    if not args:  # bare `jobctl`: the help, on stdout, exit 0 (click's own way exits 2)
        args = ["--help"]
    # typer turns a BrokenPipeError into exit status 1 on its own: carry it
    # past typer to __main__, which handles a closed pipe (exit 0).
    invoke = command.invoke

    def invoke_carrying_broken_pipe(ctx: click.Context) -> object:
        try:
            return invoke(ctx)
        except BrokenPipeError as exc:
            raise _ReaderGone() from exc

    command.invoke = invoke_carrying_broken_pipe  # type: ignore[method-assign]
    try:
        result = command.main(args, prog_name="jobctl", standalone_mode=False, obj={"tail": tail})
    except _ReaderGone as gone:
        raise gone.__cause__ from None  # type: ignore[misc]
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        return 130
    except click.ClickException as exc:
        name = exc.ctx.command_path if getattr(exc, "ctx", None) else "jobctl"
        raise InputError(f"{exc.format_message()} (see `{name} --help`)") from None
    return result if isinstance(result, int) else 0


def _examples(*lines: str) -> str:
    # "\b" keeps click from re-wrapping the lines of this paragraph.
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def _queue(db: str | None, config: str | None) -> api.Queue:
    return api.connect(db, config)


def version() -> str:
    """The installed jobctl's version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("jobctl")
    except PackageNotFoundError:  # run from a source tree, not installed
        from jobctl import __version__

        return __version__


def _print_version(value: bool) -> None:
    if value:
        print(f"jobctl {version()}")
        raise typer.Exit()


@app.callback()
def _global_options(
    ctx: typer.Context,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
    db: Annotated[
        str | None,
        typer.Option(
            "--db", metavar="PATH", help="Database, for any command (given after it, that wins)."
        ),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option("--config", metavar="PATH", help="jobs.toml, for any command (likewise)."),
    ] = None,
) -> None:
    # `jobctl --db X ls` is `jobctl ls --db X`: the values become the
    # command's defaults, so that one given after the command still wins.
    given = {k: v for k, v in (("db", db), ("config", config)) if v is not None}
    if given:
        group = ctx.command
        assert isinstance(group, click.Group)
        ctx.default_map = {name: dict(given) for name in group.commands}


# -- init / check -----------------------------------------------------------


@app.command(epilog=_examples("jobctl init"))
def init(db: DbOption = None, config: ConfigOption = None) -> int:
    """Write a starter jobs.toml (never over an existing one) and create the database."""
    from jobctl.file_safety import check_folder

    target = Path(config or "jobs.toml")
    check_folder(target.absolute().parent, target)
    example = Path(__file__).with_name("jobs.toml.example").read_bytes()
    try:
        # O_EXCL | O_NOFOLLOW: never over a file, nor through a link, that is there.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileExistsError:
        raise InputError(f"{target} already exists; not overwriting it") from None
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as file:
        file.write(example)
    with _queue(db, str(target)) as queue:
        queue.stats()  # opens, so creates, the database
        where = describe_db(queue.db_path)
    print(f"wrote {target}; database at {where}")
    return 0


@app.command(epilog=_examples("jobctl check --config ./jobs.toml"))
def check(config: ConfigOption = None) -> int:
    """Validate jobs.toml: list every problem (exit 2) or say what it declares."""
    from jobctl.config import missing_handlers

    path = find_config(config)
    try:
        loaded = load_config(path)
        problems = missing_handlers(loaded)  # only here: no other command looks for modules
    except ConfigError as exc:
        problems = exc.problems
    if problems:
        for problem in problems:
            print(safe(problem), file=sys.stderr)  # one line each, whatever the values hold
        return 2
    print(describe(loaded))
    return 0


# -- add ----------------------------------------------------------------------


@app.command(
    epilog=_examples(
        """jobctl add email:send --data '{"to": "a@example.com"}'""",
        "jobctl add --in 10m -- ./backup.sh --full",
        "jobctl add --shell 'pg_dump db | gzip > db.gz'",
        "jobctl add email:send --batch payloads.jsonl",
        "jobctl add --wait -- make test",
    ),
)
def add(
    ctx: typer.Context,
    type: Annotated[str | None, typer.Argument(metavar="[TYPE]", help="A job type.")] = None,
    shell: Annotated[str | None, typer.Option(help="Run this text with /bin/sh -c.")] = None,
    data: Annotated[
        str | None, typer.Option(metavar="JSON", help="The payload; - reads stdin.")
    ] = None,
    data_file: Annotated[
        str | None, typer.Option(metavar="FILE", help="Read the payload from FILE.")
    ] = None,
    queue: Annotated[str | None, typer.Option(metavar="Q")] = None,
    priority: Annotated[str | None, typer.Option(metavar="N", help="Higher runs first.")] = None,
    delay: Annotated[
        str | None, typer.Option("--in", metavar="DURATION", help="Run after this long: 10m.")
    ] = None,
    at: Annotated[
        str | None, typer.Option(metavar="TIME", help="Run at HH:MM or an ISO 8601 time.")
    ] = None,
    max_attempts: Annotated[
        str | None, typer.Option(metavar="N", help="Tries at most (a command: 1).")
    ] = None,
    timeout: Annotated[
        str | None, typer.Option(metavar="DURATION", help="Stop each run after this long: 5m.")
    ] = None,
    unique: Annotated[
        str | None, typer.Option(metavar="KEY", help="Reuse a queued or running job's id.")
    ] = None,
    after: Annotated[
        list[str] | None, typer.Option(metavar="ID", help="Hold until job ID succeeds.")
    ] = None,
    label: Annotated[
        list[str] | None,
        typer.Option("--label", metavar="LABEL", help="Tag the job (repeatable): ls --label."),
    ] = None,
    batch: Annotated[
        str | None, typer.Option(metavar="FILE", help="JSON lines, one job each; - is stdin.")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the job(s) to end; exit as they did.")
    ] = False,
    json_: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> int:
    """Add a job and print its id.

    TYPE is a job type from jobs.toml.  For an ad hoc command, give it after
    `--` (run without a shell) or as --shell 'TEXT'.
    """
    request = AddRequest(
        type=type,
        command=list((ctx.obj or {}).get("tail") or []),
        shell=shell,
        data=data,
        data_file=data_file,
        queue=queue,
        priority=priority,
        delay=delay,
        at=at,
        max_attempts=max_attempts,
        timeout=timeout,
        unique=unique,
        after=list(after or []),
        labels=list(label or []),
        batch=batch,
        wait=wait,
        json=json_,
        db=db,
        config=config,
    )
    return execute_add(request)


def execute_add(request: AddRequest) -> int:
    """Separate from add() so that tests can compare what both parsers build."""
    return run_add(request)


# -- the daemon ---------------------------------------------------------------


@app.command(epilog=_examples("jobctl demo"))
def demo(db: DbOption = None, config: ConfigOption = None) -> int:
    """Run sample jobs with a real daemon and show what happened: a first look."""
    from jobctl.demo import run_demo

    return run_demo(db, config)


@app.command(
    epilog=_examples(
        "jobctl daemon --concurrency 8 --queues default,mail",
        "jobctl daemon --types 'email:*,report:*'",
        "JOBCTL_TYPES='report:*' jobctl daemon --drain",
        "jobctl daemon --print-systemd-unit > ~/.config/systemd/user/jobctl.service",
    )
)
def daemon(
    concurrency: Annotated[
        int | None, typer.Option(metavar="N", min=1, max=limits.MAX_THREADS)
    ] = None,
    queues: Annotated[
        str | None,
        typer.Option(metavar="A,B", help="Serve only these queues (else $JOBCTL_QUEUES)."),
    ] = None,
    types: Annotated[
        str | None,
        typer.Option(
            metavar="GLOB,GLOB",
            help="Serve only job types these globs match; `-`: ad hoc commands"
            " (else $JOBCTL_TYPES).",
        ),
    ] = None,
    no_schedules: Annotated[bool, typer.Option("--no-schedules")] = False,
    no_workers: Annotated[bool, typer.Option("--no-workers")] = False,
    drain: Annotated[bool, typer.Option("--drain", help="Exit when nothing is due.")] = False,
    log_format: Annotated[str, typer.Option(metavar="text|json")] = "text",
    print_systemd_unit: Annotated[
        bool,
        typer.Option(
            "--print-systemd-unit",
            help="Print a systemd unit that runs this daemon (a system unit for root), and exit.",
        ),
    ] = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> int:
    """Run jobs: a thread pool, retries, crash recovery; stop with SIGTERM or Ctrl-C."""
    from jobctl.daemon import Daemon

    if log_format not in ("text", "json"):
        raise InputError(f'--log-format: "{log_format}" is not text or json')
    with _queue(db, config) as q:
        cfg, path = q.config, q.db_path
    names = [n.strip() for n in queues.split(",") if n.strip()] if queues else None
    globs = type_globs.parse(types)
    if print_systemd_unit:  # this daemon, as systemd will start it: nothing is opened or run
        from jobctl.systemd import unit_for

        # The flags only: $JOBCTL_QUEUES and $JOBCTL_TYPES are for the unit's
        # Environment= (one unit file, several daemons).
        args = ["--concurrency", str(concurrency)] if concurrency else []
        args += ["--queues", ",".join(names)] if names else []
        args += ["--types", ",".join(globs)] if globs else []
        args += ["--no-schedules"] * no_schedules + ["--no-workers"] * no_workers
        args += ["--drain"] * drain + ["--log-format", log_format] * (log_format != "text")
        sys.stdout.write(unit_for(cfg, path, args))
        return 0
    # The flag wins; else the environment (an empty variable is no filter).
    if queues is None:
        env_queues = os.environ.get("JOBCTL_QUEUES", "")
        names = [n.strip() for n in env_queues.split(",") if n.strip()] or None
    if types is None:
        globs = type_globs.parse(os.environ.get("JOBCTL_TYPES", ""))
    runner = Daemon(
        cfg,
        path,
        concurrency=concurrency,
        queues=names,
        types=globs,
        drain=drain,
        schedules=not no_schedules,
        workers=not no_workers,
        log_format=log_format,
        config_source=config,
    )
    return runner.run()


@app.command(epilog=_examples("jobctl tui", "jobctl tui --db /srv/jobs.db"))
def tui(db: DbOption = None, config: ConfigOption = None) -> int:
    """A live dashboard: jobs, queues, schedules, workers; retry, cancel, pause from it."""
    from jobctl.tui import JobctlApp

    with _queue(db, config) as q:
        JobctlApp(q).run()
    return 0


# -- reading ------------------------------------------------------------------


@app.command(
    name="ls",
    epilog=_examples(
        "jobctl ls --state failed --limit 20",
        "jobctl ls --type 'email:*,report:*'",
        "jobctl ls --state queued --search timeout",
        "jobctl ls --label nightly --label db",
    ),
)
def ls(
    state: Annotated[str | None, typer.Option(metavar="S")] = None,
    queue: Annotated[str | None, typer.Option(metavar="Q")] = None,
    type: Annotated[str | None, typer.Option(metavar="GLOB,GLOB", help=_TYPE_HELP)] = None,
    search: Annotated[
        str | None,
        typer.Option(metavar="TEXT", help="Only jobs whose type, command or error holds TEXT."),
    ] = None,
    limit: Annotated[int, typer.Option(metavar="N", min=1, max=limits.MAX_LIMIT)] = 50,
    label: LabelFilter = None,
    json_: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> int:
    """List jobs, newest first; WHY says what a queued job waits for."""
    with _queue(db, config) as q:
        globs = type_globs.parse(type)
        jobs = q.list(
            state=state, queue=queue, types=globs, limit=limit, text=search or None, labels=label
        )
        whys = q.why_queued(jobs)
    out = Output()
    if json_:
        out.json([job.to_json() | {"why": whys.get(job.id)} for job in jobs])
        return 0
    # On a terminal the JOB and ERROR columns share what the others leave.
    # WHY comes last: piped, the columns before it stay where they were.
    why_width = min(40, max(map(len, whys.values()), default=0))
    # LABELS only when a job of the page has some: a page without keeps
    # the columns it had.  On a terminal at most 20 wide, JOB and ERROR
    # giving up the room.
    labelled = any(job.labels for job in jobs)
    labels_width = min(20, max((len(",".join(j.labels)) for j in jobs), default=0))
    used = 52 + why_width + (labels_width + 2 if labelled else 0)
    spare = max(30, shutil.get_terminal_size().columns - used) if out.tty else 30_000
    out.table(
        ["ID", "STATE", "ATTEMPT", "QUEUE", "CREATED", "JOB", "ERROR"]
        + (["LABELS"] if labelled else [])
        + ["WHY"],
        [
            (
                job.id,
                job.state,
                f"{job.attempt}/{job.max_attempts}",
                job.queue,
                out.time(job.created_at),
                shorten(job.label, spare * 2 // 3),
                shorten(job.error, spare // 3),
                *([shorten(",".join(job.labels), 20 if out.tty else 30_000)] if labelled else []),
                shorten(whys.get(job.id), 40 if out.tty else 30_000),
            )
            for job in jobs
        ],
        state_column=1,
    )
    return 0


@app.command(epilog=_examples("jobctl show 42 --json"))
def show(
    job_id: Annotated[int, typer.Argument(metavar="ID", min=1, max=limits.MAX_ID)],
    json_: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> int:
    """Show every field of a job, its attempts and its events."""
    with _queue(db, config) as q:
        job = q.get(job_id)
        attempts = q.attempts(job_id)
        events = q.events(job_id)
        log = [line for a in attempts for line in q.log_lines(job_id, a.number)]
        why = q.why_queued([job]).get(job_id)
    out = Output()
    if json_:
        out.json(
            job.to_json()
            | {
                "why": why,
                "attempts": [a.to_json() for a in attempts],
                "events": [e.to_json() for e in events],
                "log": [line.to_json() for line in log],
            }
        )
        return 0
    out.fields(_job_fields(job, out, why))
    if attempts:
        out.line()
        out.line("Attempts:")
        out.table(
            ["#", "STARTED", "FINISHED", "OUTCOME", "EXIT", "OUTPUT", "ERROR"],
            [
                (
                    a.number,
                    out.time(a.started_at),
                    out.time(a.finished_at),
                    a.outcome or "running",
                    a.exit_status if a.signal is None else f"signal {a.signal}",
                    f"{a.output_size} B",
                    shorten(a.error, 60),
                )
                for a in attempts
            ],
        )
    out.line()
    out.line("Events:")
    out.table(
        ["AT", "EVENT", "ATTEMPT", "DETAIL"],
        [(out.time(e.at), e.kind, e.attempt or "", e.detail or "") for e in events],
    )
    if log:
        out.line()
        out.line("Log (ctx.log):")
        out.table(
            ["AT", "ATTEMPT", "LEVEL", "MESSAGE"],
            [(out.time(line.at), line.attempt, line.level.upper(), line.text()) for line in log],
        )
    return 0


def _job_fields(job: Job, out: Output, why: str | None = None) -> list[tuple[str, object]]:
    import json

    fields: list[tuple[str, object]] = [
        ("id", job.id),
        ("state", job.state),
        *([("why", why)] if why is not None else []),
        ("type" if job.type else "command", job.label),
        ("queue", job.queue),
        ("priority", job.priority),
        ("attempt", f"{job.attempt} of {job.max_attempts} ({job.attempts_total} in all)"),
        ("created", out.time(job.created_at)),
        ("run at", out.time(job.run_at)),
        ("started", out.time(job.started_at)),
        ("finished", out.time(job.finished_at)),
    ]
    if job.timeout:
        fields.append(("timeout", f"{job.timeout:g}s"))
    if job.unique_key is not None:
        fields.append(("unique key", job.unique_key or "(the type)"))
    if job.labels:
        fields.append(("labels", " ".join(job.labels)))
    if job.parents:
        fields.append(("after", " ".join(map(str, job.parents))))
        if job.waiting and job.state not in FINISHED:
            fields.append(("waiting on", f"{job.waiting} job(s)"))
    if job.cwd:
        fields.append(("cwd", job.cwd))
    if job.schedule:
        fields.append(("schedule", job.schedule))
    if job.type is not None:
        fields.append(("payload", json.dumps(job.payload, ensure_ascii=False)))
    if job.result is not None:
        fields.append(("result", json.dumps(job.result, ensure_ascii=False)))
    if job.error:
        fields.append(("error", job.error))
    if job.cancel_requested is not None and job.state not in FINISHED:
        fields.append(("cancel", "requested; its daemon will stop it"))
    return fields


@app.command(
    epilog=_examples(
        "jobctl logs 42 --attempt 1", "jobctl logs -f 42", "jobctl logs --worker mailer -f"
    )
)
def logs(
    job_id: Annotated[int | None, typer.Argument(metavar="ID", min=1, max=limits.MAX_ID)] = None,
    attempt: Annotated[
        int | None,
        typer.Option(metavar="N", min=1, max=limits.MAX_ID, help="Default: the latest."),
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until the job ends.")
    ] = False,
    worker: Annotated[
        str | None, typer.Option(metavar="NAME", help="A worker's output instead.")
    ] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> int:
    """Print the stored output of a job's attempt (stdout and stderr, as written)."""
    if (job_id is None) == (worker is None):
        raise InputError("give a job id or --worker NAME")
    if worker is not None:
        from jobctl.waiting import show_worker_output

        with _queue(db, config) as q:
            show_worker_output(q, worker, follow)
        return 0
    assert job_id is not None
    if follow:
        from jobctl.waiting import follow_logs

        with _queue(db, config) as q:
            follow_logs(q, job_id, attempt)
        return 0
    with _queue(db, config) as q:
        number, data = q.output(job_id, attempt)
        lines = q.log_lines(job_id, number) if number is not None else []
    if number is None:
        print(f"job {job_id} has not run yet", file=sys.stderr)
        return 0
    if sys.stdout.isatty():
        sys.stdout.write(printable_output(data))
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
    out = Output()
    for line in lines:
        out.line(f"[{out.time(line.at)}] {safe(line.labelled())}")
    return 0


@app.command(epilog=_examples("jobctl wait 42 43 --timeout 10m"))
def wait(
    job_ids: Annotated[list[int], typer.Argument(metavar="ID...", min=1, max=limits.MAX_ID)],
    timeout: Annotated[
        str | None, typer.Option(metavar="DURATION", help="Give up (exit 124) after this long.")
    ] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> int:
    """Wait until jobs end: exit 0 if all succeeded, else 1 (or a failed command's status).

    The output of a single job is shown as it comes, on a terminal.
    """
    from jobctl.waiting import wait_for_jobs

    with _queue(db, config) as q:
        wait_for_jobs(q, job_ids, timeout)
    return 0


@app.command(epilog=_examples("jobctl stats --json"))
def stats(json_: JsonOption = False, db: DbOption = None, config: ConfigOption = None) -> int:
    """Count jobs per queue and state."""
    with _queue(db, config) as q:
        counts = q.stats()
        paused = set(q.paused_queues())
        limits = q.parallel_limits()
    states = ["queued", "running", "succeeded", "failed", "cancelled"]
    zero = dict.fromkeys([*states, "total"], 0)
    # A queue shows once it has jobs, or a pause or limit set in the database.
    set_here = {name for name, (_, source) in limits.items() if source == "database"}
    rows = [
        {"queue": name, "paused": name in paused}
        | dict(zip(("parallel", "parallel_source"), limits.get(name, (None, None)), strict=True))
        | counts.get(name, zero)
        for name in sorted(set(counts) | paused | set_here)
    ]
    # Last, every queue together: "queue" null (and the settings null) in JSON.
    everything = {"queue": None, "paused": None, "parallel": None, "parallel_source": None}
    everything |= counts.all
    out = Output()
    if json_:
        out.json([*rows, everything])
        return 0
    if not rows:
        out.line("no jobs yet")
        return 0
    out.table(
        ["QUEUE", *(s.upper() for s in states), "TOTAL", "PAUSED", "PARALLEL"],
        [
            [r["queue"], *(r[s] for s in states), r["total"], "paused" if r["paused"] else ""]
            + [f"{r['parallel']} ({r['parallel_source']})" if r["parallel"] else ""]
            for r in rows
        ]
        + [["all queues", *(everything[s] for s in states), everything["total"], "", ""]],
    )
    return 0


@app.command(epilog=_examples("jobctl schedules", "jobctl schedules --json"))
def schedules(json_: JsonOption = False, db: DbOption = None, config: ConfigOption = None) -> int:
    """List the scheduled job types: next run, and how the last one went."""
    with _queue(db, config) as q:
        infos = q.schedules()
    out = Output()
    if json_:
        out.json([info.to_json() for info in infos])
        return 0
    if not infos:
        out.line("no schedules: give a job type `cron` or `every` in jobs.toml")
        return 0
    rows = []
    for info in infos:
        job = info.last_job
        last = f"job {job.id} {job.state}" if job else "-"
        rows.append(
            (
                info.name,
                info.expression,
                info.timezone,
                out.time(info.next_run),
                out.ago(info.next_run),
                out.time(info.last_due) if info.last_due is not None else "never",
                out.ago(info.last_due) if info.last_due is not None else "-",
                last,
            )
        )
    headers = ["SCHEDULE", "EXPRESSION", "ZONE", "NEXT", "LEFT", "LAST", "PASSED", "LAST RUN"]
    out.table(headers, rows)
    return 0


@app.command(
    epilog=_examples("jobctl workers", "jobctl workers restart mailer", "jobctl workers --json")
)
def workers(
    action: Annotated[
        str | None, typer.Argument(metavar="[start|stop|restart]", help="What to do.")
    ] = None,
    name: Annotated[str | None, typer.Argument(metavar="[NAME]", help="Which worker.")] = None,
    json_: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> int:
    """List supervised workers and live daemons, or start, stop or restart a worker.

    The daemon that runs the worker carries the request out within a second.
    """
    if action is not None:
        if name is None:
            raise InputError(f"give a worker's name: jobctl workers {action} NAME")
        with _queue(db, config) as q:
            q.worker_request(name, action)
        print(f"worker {name}: {action} requested")
        return 0
    with _queue(db, config) as q:
        infos, daemons = q.workers()
    out = Output()
    if json_:
        out.json(
            {"workers": [w.to_json() for w in infos], "daemons": [d.to_json() for d in daemons]}
        )
        return 0
    if infos:
        rows = []
        for w in infos:
            shown = w.to_json()
            uptime = shown["uptime_seconds"]
            last = w.last_exit_text()
            rows.append(
                (
                    w.name,
                    w.state,
                    shown["pid"] or "",
                    _duration(uptime) if uptime is not None else "",
                    w.restarts,
                    last,
                    out.time(w.last_exit_at) if w.last_exit_at else "",
                    w.daemon_id or "",
                )
            )
        headers = ["WORKER", "STATE", "PID", "UPTIME", "RESTARTS", "LAST EXIT", "AT", "DAEMON"]
        out.table(headers, rows, state_column=1)
    else:
        out.line("no workers: add a [workers.NAME] table to jobs.toml")
    out.line()
    if not daemons:
        out.line("no daemon is running")
        return 0
    out.table(
        ["DAEMON", "PID", "HOST", "STARTED", "HEARTBEAT", "RUNNING JOBS"],
        [
            (d.id, d.pid, d.host, out.time(d.started_at), out.ago(d.heartbeat_at), d.running_jobs)
            for d in daemons
        ],
    )
    return 0


def _duration(seconds: float) -> str:
    from jobctl.durations import format_duration

    return format_duration(seconds)


# -- changing -----------------------------------------------------------------


@app.command(
    epilog=_examples(
        "jobctl retry 42 43",
        "jobctl retry --failed --type email:send",
        "jobctl retry --failed --type 'email:*,-'",
        "jobctl retry --failed --label nightly",
    )
)
def retry(
    job_ids: Annotated[
        list[int] | None, typer.Argument(metavar="[ID]...", min=1, max=limits.MAX_ID)
    ] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Every failed job.")] = False,
    type: Annotated[
        str | None, typer.Option(metavar="GLOB,GLOB", help="With --failed. " + _TYPE_HELP)
    ] = None,
    queue: Annotated[str | None, typer.Option(metavar="Q", help="With --failed.")] = None,
    label: LabelFilter = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> int:
    """Queue failed or cancelled jobs again: same id, history kept, a fresh attempt budget."""
    if bool(job_ids) == failed:
        raise InputError("give job ids or --failed")
    if (type or queue or label) and not failed:
        raise InputError("--type, --queue and --label go with --failed")
    with _queue(db, config) as q:
        globs = type_globs.parse(type)
        done = (
            q.retry_failed(types=globs, queue=queue, labels=label) if failed else q.retry(*job_ids)
        )
    for job_id in done:
        print(job_id)
    if failed:
        print(f"retried {len(done)} job(s)", file=sys.stderr)
    return 0


@app.command(epilog=_examples("jobctl restart 42", 'id=$(jobctl restart 42) && jobctl wait "$id"'))
def restart(
    job_id: Annotated[int, typer.Argument(metavar="ID", min=1, max=limits.MAX_ID)],
    json_: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> int:
    """Add a new job like an ended one (same definition, --after, labels); print its id.

    The old job and its history stay as they are; `retry` requeues the job itself.
    """
    with _queue(db, config) as q:
        job = q.restart(job_id)
    # As `add` prints: the id alone, or the job on one line of JSON.
    print(json_text(job.to_json()) if json_ else job.id)
    return 0


@app.command(epilog=_examples("jobctl cancel 42 43", "jobctl cancel --label nightly"))
def cancel(
    job_ids: Annotated[
        list[int] | None, typer.Argument(metavar="[ID]...", min=1, max=limits.MAX_ID)
    ] = None,
    label: Annotated[
        list[str] | None,
        typer.Option(
            "--label",
            metavar="LABEL",
            help="Every queued or running job with it (all, if repeated).",
        ),
    ] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> int:
    """Cancel jobs: a queued job at once, a running one is stopped by its daemon."""
    if bool(job_ids) == bool(label):
        raise InputError("give job ids or --label")
    with _queue(db, config) as q:
        outcome = q.cancel_labelled(label) if label else q.cancel(*job_ids)
    for job_id, what in outcome.items():
        note = " (its daemon will stop it)" if what == "cancelling" else ""
        print(f"{job_id} {what}{note}")
    if label:
        print(f"cancelled {len(outcome)} job(s)", file=sys.stderr)
    return 0


@app.command(
    epilog=_examples(
        "jobctl purge --older-than 7d --state succeeded",
        "jobctl purge --older-than 30d --dry-run",
        "jobctl purge --older-than 1d --type 'report:*'",
        "jobctl purge --older-than 0s --label nightly",
    )
)
def purge(
    older_than: Annotated[str, typer.Option(metavar="DURATION", help="e.g. 7d, 12h.")],
    state: Annotated[
        str, typer.Option(metavar="S,S", help="Finished states to purge.")
    ] = "succeeded,failed,cancelled",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say how many would go, per state; delete nothing.")
    ] = False,
    type: Annotated[str | None, typer.Option(metavar="GLOB,GLOB", help=_TYPE_HELP)] = None,
    label: LabelFilter = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> int:
    """Delete finished jobs older than a duration, with their attempts, output and events.

    `retention = "30d"` in jobs.toml has the daemon do this on its own.
    """
    states = [s.strip() for s in state.split(",") if s.strip()]
    with _queue(db, config) as q:
        if dry_run:
            counts = q.purgeable(older_than, states, type_globs.parse(type), label)
            each = ", ".join(f"{n} {s}" for s, n in counts.items())
            print(f"would purge {sum(counts.values())} job(s)" + (f": {each}" if each else ""))
            return 0
        count = q.purge(older_than, states, type_globs.parse(type), label)
    print(f"purged {count} job(s)")
    return 0


@app.command(epilog=_examples("jobctl pause email"))
def pause(
    queue: Annotated[str, typer.Argument(metavar="QUEUE")],
    db: DbOption = None,
    config: ConfigOption = None,
) -> int:
    """Stop daemons from starting jobs of a queue (running ones go on)."""
    with _queue(db, config) as q:
        q.pause(queue)
    print(f"queue {safe(queue)} paused")
    return 0


@app.command(epilog=_examples("jobctl resume email"))
def resume(
    queue: Annotated[str, typer.Argument(metavar="QUEUE")],
    db: DbOption = None,
    config: ConfigOption = None,
) -> int:
    """Let daemons start jobs of a paused queue again."""
    with _queue(db, config) as q:
        q.resume(queue)
    print(f"queue {safe(queue)} resumed")
    return 0


@app.command(
    epilog=_examples(
        "jobctl parallel 3 --queue email",
        "jobctl parallel --queue email",
        "jobctl parallel --queue email --reset",
    )
)
def parallel(
    limit: Annotated[int | None, typer.Argument(metavar="[N]", help="Default: show it.")] = None,
    queue: Annotated[str, typer.Option(metavar="Q", help="Default: default.")] = "default",
    reset: Annotated[
        bool, typer.Option("--reset", help="Forget N: jobs.toml's concurrency applies again.")
    ] = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> int:
    """Let N jobs of a queue run at once over all daemons, from their next claim."""
    from jobctl.queue_cli import run_parallel

    return run_parallel(_queue(db, config), queue, limit, reset)


# -- dump / load --------------------------------------------------------------


@app.command(
    epilog=_examples(
        "jobctl dump > backup.jsonl",
        "jobctl dump | jobctl load --db postgresql://jobs@db.example/jobs",
    )
)
def dump(
    output: Annotated[
        str | None, typer.Option("--output", "-o", metavar="FILE", help="Write here (0600).")
    ] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> int:
    """Write every job (attempts, events, logs, output), schedule and queue as JSON lines."""
    from jobctl.transfer_cli import run_dump

    return run_dump(_queue(db, config), output)


@app.command(
    epilog=_examples(
        "jobctl load backup.jsonl --db /srv/jobs.db",
        "jobctl dump | jobctl load --db postgresql://jobs@db.example/jobs",
    )
)
def load(
    file: Annotated[str | None, typer.Argument(metavar="[FILE|-]", help="Default: stdin.")] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> int:
    """Load a `jobctl dump` into this database, keeping ids; all or nothing."""
    from jobctl.transfer_cli import run_load

    return run_load(_queue(db, config), file)


# -- completion / man ---------------------------------------------------------


@app.command(
    epilog=_examples(
        "jobctl completion bash > ~/.local/share/bash-completion/completions/jobctl",
        "jobctl completion zsh > ~/.zfunc/_jobctl",
        "jobctl completion fish > ~/.config/fish/completions/jobctl.fish",
    )
)
def completion(
    ctx: typer.Context,
    shell: Annotated[str | None, typer.Argument(metavar="bash|zsh|fish")] = None,
    values: Annotated[str | None, typer.Option(hidden=True)] = None,
    config: ConfigOption = None,
) -> int:
    """Print a completion script for bash, zsh or fish (where to put it: see the README)."""
    from jobctl.completion import run_completion

    # The live tree, so that commands and options added later are completed too.
    return run_completion(ctx.find_root().command, shell, values, config)


@app.command(name="man", epilog=_examples("jobctl man > ~/.local/share/man/man1/jobctl.1"))
def man_page(ctx: typer.Context) -> int:
    """Print the manual page (roff, section 1), built from these help texts."""
    from jobctl.manpage import run_man

    return run_man(ctx.find_root().command)
