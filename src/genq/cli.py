"""The ``genq`` command: serve, worker, migrate, and a client of the HTTP API.

Server commands build a node from settings; client commands talk to a server over HTTP
(``--url`` or ``GENQ_URL``), like any other client.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from genq.client import ApiError, Client

app = typer.Typer(
    help="genq: a server for AI generation jobs with live progress.", no_args_is_help=True
)
jobs_app = typer.Typer(help="Inspect and manage jobs.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
keys_app = typer.Typer(help="API keys (straight in the database).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
credits_app = typer.Typer(help="Credits (straight in the database).", no_args_is_help=True)
app.add_typer(credits_app, name="credits")
console = Console()
err = Console(stderr=True)

UrlOpt = Annotated[str, typer.Option("--url", envvar="GENQ_URL", help="the genq server")]
KeyOpt = Annotated[str | None, typer.Option("--api-key", envvar="GENQ_API_KEY", help="an API key")]
DEFAULT_URL = "http://127.0.0.1:8000"
# Exit statuses of `submit --watch` and `jobs` commands.
EXIT_FAILED, EXIT_CANCELLED, EXIT_ERROR = 1, 3, 2


def _settings(**overrides: Any) -> Any:
    from pydantic import ValidationError

    from genq.settings import Settings

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        for e in exc.errors(include_url=False):
            err.print(f"[red]invalid setting {'.'.join(map(str, e['loc']))}: {e['msg']}[/red]")
        raise typer.Exit(EXIT_ERROR) from None


def _tune_process(settings: Any) -> None:
    """Process-wide knobs: logging and the garbage collector.

    With thousands of open streams, Python's default young-generation threshold (700) runs
    collections that walk every connection's objects in the middle of a broadcast; a higher
    threshold collects the same garbage in fewer, cheaper passes (docs/benchmarks.md).
    """
    _logging(settings.log_level)
    if settings.gc_gen0_threshold:
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(settings.gc_gen0_threshold, gen1, gen2)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@app.command()
def serve(
    db: Annotated[str | None, typer.Option("--db", help="database URL")] = None,
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="in-process job concurrency")
    ] = None,
    no_workers: Annotated[bool, typer.Option("--no-workers", help="API only")] = False,
    queue: Annotated[list[str] | None, typer.Option("--queue", help="queues to work")] = None,
    insecure: Annotated[
        bool,
        typer.Option("--insecure", help="serve without auth on a non-loopback address"),
    ] = False,
) -> None:
    """Start the API (and, unless --no-workers, in-process workers)."""
    import uvicorn

    from genq.api.app import create_app

    settings = _settings(
        db_url=db,
        host=host,
        port=port,
        concurrency=workers,
        run_workers=False if no_workers else None,
        queues=queue or None,
        insecure=insecure or None,
    )
    if not settings.auth_on and not settings.insecure and not is_loopback(settings.host):
        err.print(
            f"[red]refusing to serve on {settings.host} without authentication[/red]: anyone "
            "who can reach it would be an admin.\nConfigure GENQ_JWT_SECRET (HS256), "
            "GENQ_JWKS_URL (RS256/ES256) or GENQ_AUTH_ENABLED=true (API keys: genq keys "
            "create), or listen on 127.0.0.1, or pass --insecure if something in front of "
            "genq authenticates."
        )
        raise typer.Exit(EXIT_ERROR)
    _tune_process(settings)
    fastapi_app = create_app(settings)
    config = uvicorn.Config(
        fastapi_app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        timeout_graceful_shutdown=max(5, int(settings.shutdown_grace_s) + 5),
        access_log=False,
    )

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            # Open SSE streams would hold the shutdown open: end them first.
            fastapi_app.state.node.hub.close_all()
            super().handle_exit(sig, frame)

    console.print(
        f"genq on http://{settings.host}:{settings.port} "
        f"({settings.database_url.split('://')[0]}, workers: "
        f"{'off' if not settings.run_workers else settings.concurrency})"
    )
    Server(config).run()


@app.command()
def worker(
    db: Annotated[str | None, typer.Option("--db", help="database URL")] = None,
    queue: Annotated[list[str] | None, typer.Option("--queue", help="queues to work")] = None,
    concurrency: Annotated[int | None, typer.Option(help="jobs run at once")] = None,
    remote: Annotated[
        str | None, typer.Option("--remote", help="a genq server to work for over HTTP")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="GENQ_WORKER_TOKEN", help="worker API key (--remote)"),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="name in the registry")] = None,
    capability: Annotated[
        list[str] | None, typer.Option("--capability", help="capabilities to announce")
    ] = None,
    demo_seconds: Annotated[
        float, typer.Option("--demo-seconds", help="simulated render time of the GPU handlers")
    ] = 2.0,
    health_port: Annotated[
        int | None, typer.Option("--health-port", help="answer GET /health here (0: any port)")
    ] = None,
    health_host: Annotated[
        str, typer.Option("--health-host", help="address the health port binds and announces")
    ] = "127.0.0.1",
) -> None:
    """Run a worker process (no API): claims and runs jobs until SIGTERM or SIGINT.

    With --remote it works for a genq server over HTTP (docs/workers.md) instead of
    reading the database."""
    if remote is not None:
        if not token:
            err.print("[red]--remote needs --token (or GENQ_WORKER_TOKEN): a worker API key[/red]")
            raise typer.Exit(EXIT_ERROR)
        _remote_worker(
            remote,
            token,
            queue or ["sdxl_queue"],
            concurrency or 1,
            name,
            capability or [],
            demo_seconds,
            health_host if health_port is not None else None,
            health_port or 0,
        )
        return
    from genq.node import Node
    from genq.pipelines import default_registry

    settings = _settings(db_url=db, queues=queue or None, concurrency=concurrency)
    _tune_process(settings)

    async def run() -> None:
        node = Node(settings, default_registry(), workers=True, serve_events=False)
        await node.start()
        assert node.worker is not None
        logging.getLogger("genq").info(
            "worker %s on %s, queues %s",
            node.worker.name,
            settings.database_url.split("://")[0],
            settings.queues,
        )
        await _until_signal(settings.shutdown_grace_s)
        await node.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


async def _until_signal(grace_s: float) -> None:
    """Wait for SIGTERM or SIGINT, then say how long running jobs have to finish."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    logging.getLogger("genq").info("stopping: running jobs have %.0fs to finish", grace_s)


def _remote_worker(
    url: str,
    token: str,
    queues: list[str],
    concurrency: int,
    name: str | None,
    capabilities: list[str],
    demo_seconds: float,
    health_host: str | None,
    health_port: int,
) -> None:
    from genq.domain.errors import StoreUnavailable
    from genq.pipelines import default_registry
    from genq.pipelines.gpu import register_gpu
    from genq.providers import make_providers
    from genq.worker.link import LinkError
    from genq.worker.remote import RemoteOptions, RemoteRunner
    from genq.worker.runtime import worker_name

    settings = _settings()
    _tune_process(settings)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per long poll otherwise
    registry = default_registry()
    register_gpu(registry, settings.remote_job_types, demo_seconds)
    options = RemoteOptions(
        url,
        token,
        queues,
        name or worker_name(),
        concurrency,
        capabilities,
        shutdown_grace_s=settings.shutdown_grace_s,
        health_host=health_host,
        health_port=health_port,
    )

    async def run() -> None:
        runner = RemoteRunner(options, registry, make_providers(settings))
        try:
            await runner.start()
        except (LinkError, StoreUnavailable) as exc:
            await runner.stop(0)
            err.print(f"[red]{url} refused the worker: {exc}[/red]")
            raise typer.Exit(EXIT_ERROR) from None
        await _until_signal(settings.shutdown_grace_s)
        await runner.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


@app.command()
def migrate(db: Annotated[str | None, typer.Option("--db", help="database URL")] = None) -> None:
    """Bring the database schema to the newest revision."""
    revision = _with_store(db, lambda store: store.schema_revision())
    console.print(f"schema at revision {revision}")


def _parse_params(pairs: list[str] | None, params_json: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if params_json:
        try:
            loaded = orjson.loads(params_json)
        except orjson.JSONDecodeError as exc:
            raise typer.BadParameter(f"--params is not JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise typer.BadParameter("--params must be a JSON object")
        params.update(loaded)
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"--param takes key=value, not {pair!r}")
        try:
            params[key] = orjson.loads(raw)
        except orjson.JSONDecodeError:
            params[key] = raw
    return params


@app.command()
def submit(
    job_type: Annotated[str, typer.Argument(metavar="TYPE", help="the job type")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="key=value (JSON values)")
    ] = None,
    params: Annotated[
        str | None, typer.Option("--params", help="all params as a JSON object")
    ] = None,
    queue: Annotated[str | None, typer.Option(help="queue (default: the type's)")] = None,
    priority: Annotated[int | None, typer.Option(help="higher runs first")] = None,
    dedupe_key: Annotated[str | None, typer.Option(help="one active job per key")] = None,
    delay: Annotated[float | None, typer.Option(help="seconds to wait before running")] = None,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="follow progress live")] = False,
    url: UrlOpt = DEFAULT_URL,
    api_key: KeyOpt = None,
) -> None:
    """Submit a job; --watch follows it to the end (exit 0 completed, 1 failed, 3 cancelled)."""
    with Client(url, api_key) as client:
        try:
            job = client.submit(
                job_type,
                _parse_params(param, params),
                queue=queue,
                priority=priority,
                dedupe_key=dedupe_key,
                delay_s=delay,
            )
        except ApiError as exc:
            _fail(exc)
        if not watch:
            console.print_json(data=job)
            return
        console.print(f"job [bold]{job['id']}[/bold] ({job['type']}) {job['status']}")
        raise typer.Exit(_watch(client, job["id"]))


def _watch(client: Client, job_id: str) -> int:
    """Follow a job's stream with a progress bar; return the exit status for its outcome."""
    outcome = 0
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("queued", total=100)
        try:
            for event, payload in client.events(job_id):
                data = payload.get("data", {}) if isinstance(payload.get("data"), dict) else {}
                if event == "snapshot":
                    bar.update(
                        task,
                        completed=payload.get("progress", 0),
                        description=payload.get("status", ""),
                    )
                elif event == "step_started":
                    bar.update(task, description=str(data.get("step")))
                    bar.console.print(
                        f"[cyan]▶ {data.get('step')}[/cyan] {data.get('message') or ''}"
                    )
                elif event == "step_progress":
                    bar.update(task, completed=data.get("progress", 0))
                elif event == "step_completed":
                    bar.console.print(
                        f"[green]✔ {data.get('step')}[/green] {data.get('duration')} ms"
                    )
                elif event == "log":
                    bar.console.print(f"  [dim]{data.get('message')}[/dim]")
                elif event == "job_retrying":
                    error = data.get("error") or {}
                    why = error.get("message", data.get("reason", ""))
                    bar.console.print(
                        f"[yellow]↻ retry, attempt {data.get('attempt')}: {why}[/yellow]"
                    )
                elif event == "job_completed":
                    bar.update(task, completed=100, description="completed")
                    bar.console.print("[bold green]completed[/bold green]")
                    bar.console.print_json(data=data.get("result"))
                elif event == "job_failed":
                    error = data.get("error") or {}
                    bar.update(task, description="failed")
                    bar.console.print(
                        f"[bold red]failed[/bold red] {error.get('code')}: {error.get('message')}"
                    )
                    outcome = EXIT_FAILED
                elif event == "job_cancelled":
                    bar.update(task, description="cancelled")
                    bar.console.print(
                        f"[bold yellow]cancelled[/bold yellow] {data.get('reason') or ''}"
                    )
                    outcome = EXIT_CANCELLED
        except ApiError as exc:
            _fail(exc)
    return outcome


def _fail(exc: ApiError) -> Any:
    err.print(f"[red]{exc.code}[/red]: {exc.message}")
    if exc.details:
        err.print_json(data=exc.details)
    raise typer.Exit(EXIT_ERROR)


@jobs_app.command("list")
def jobs_list(
    status: Annotated[
        str | None, typer.Option(help="queued, delayed, running, completed, failed, cancelled")
    ] = None,
    type: Annotated[str | None, typer.Option(help="job type")] = None,
    queue: Annotated[str | None, typer.Option(help="queue")] = None,
    limit: Annotated[int, typer.Option(help="how many")] = 20,
    url: UrlOpt = DEFAULT_URL,
    api_key: KeyOpt = None,
) -> None:
    """List jobs, newest first."""
    with Client(url, api_key) as client:
        try:
            page = client.list(status=status, type=type, queue=queue, limit=limit)
        except ApiError as exc:
            _fail(exc)
    table = Table("id", "type", "queue", "status", "progress", "attempts", "created")
    for j in page["jobs"]:
        table.add_row(
            j["id"],
            j["type"],
            j["queue"],
            j["status"],
            f"{j['progress']}%",
            f"{j['attempts']}/{j['max_attempts']}",
            j["created_at"],
        )
    console.print(table)
    if page.get("next_cursor"):
        console.print(f"[dim]more: --cursor {page['next_cursor']}[/dim]")


@jobs_app.command("show")
def jobs_show(job_id: str, url: UrlOpt = DEFAULT_URL, api_key: KeyOpt = None) -> None:
    """Show one job."""
    with Client(url, api_key) as client:
        try:
            console.print_json(data=client.get(job_id))
        except ApiError as exc:
            _fail(exc)


@jobs_app.command("cancel")
def jobs_cancel(
    job_id: str,
    reason: Annotated[str | None, typer.Option(help="why")] = None,
    url: UrlOpt = DEFAULT_URL,
    api_key: KeyOpt = None,
) -> None:
    """Cancel a job (a running one is asked to stop)."""
    with Client(url, api_key) as client:
        try:
            job = client.cancel(job_id, reason)
        except ApiError as exc:
            _fail(exc)
    console.print(
        f"{job['id']}: {job['status']}"
        + (" (stop requested)" if job["cancel_requested"] and job["status"] == "running" else "")
    )


@jobs_app.command("retry")
def jobs_retry(job_id: str, url: UrlOpt = DEFAULT_URL, api_key: KeyOpt = None) -> None:
    """Retry a failed or cancelled job."""
    with Client(url, api_key) as client:
        try:
            job = client.retry(job_id)
        except ApiError as exc:
            _fail(exc)
    console.print(f"{job['id']}: {job['status']}")


@app.command()
def queues(url: UrlOpt = DEFAULT_URL, api_key: KeyOpt = None) -> None:
    """Queue statistics."""
    with Client(url, api_key) as client:
        try:
            stats = client.queues()
        except ApiError as exc:
            _fail(exc)
    table = Table(
        "queue",
        "queued",
        "delayed",
        "running",
        "completed",
        "failed",
        "cancelled",
        "jobs/s (5m)",
        "wait p50 ms",
        "run p50 ms",
    )
    for q in stats["queues"]:
        c = q["counts"]
        table.add_row(
            q["name"],
            *(
                str(c[s])
                for s in ("queued", "delayed", "running", "completed", "failed", "cancelled")
            ),
            str(q["throughput_per_s"]),
            str(q["wait_ms"]["p50"]),
            str(q["run_ms"]["p50"]),
        )
    console.print(table)


def _with_store(db: str | None, action: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run ``action(store)`` on the configured database, migrated first; a refusal (bad
    input) is printed in the CLI's error style."""
    from genq.domain.errors import GenqError
    from genq.store import make_store
    from genq.store.migrate import upgrade
    from genq.store.sql import SqlStore

    settings = _settings(db_url=db)

    async def run() -> Any:
        store = make_store(settings.db_url)
        assert isinstance(store, SqlStore)
        await store.open()
        try:
            await upgrade(store)
            return await action(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except GenqError as exc:
        err.print(f"[red]{exc.code}[/red]: {exc.message}")
        raise typer.Exit(EXIT_ERROR) from None


DbOpt = Annotated[str | None, typer.Option("--db", help="database URL")]


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", help="what the key is for")],
    role: Annotated[str, typer.Option("--role", help="user, admin, service or worker")] = "user",
    user: Annotated[str | None, typer.Option("--user", help="the user it acts as")] = None,
    db: DbOpt = None,
) -> None:
    """Create an API key and print it (once: only its hash is kept)."""
    from genq.service.keys import ApiKeys

    key, record = _with_store(db, lambda store: ApiKeys(store).create(name, role, user))
    console.print_json(data={**record.to_dict(), "key": key})
    err.print("[yellow]store the key now: it cannot be shown again[/yellow]")


@keys_app.command("list")
def keys_list(db: DbOpt = None) -> None:
    """List API keys (prefixes only)."""
    records = _with_store(db, lambda store: store.list_api_keys())
    table = Table("id", "name", "prefix", "role", "user", "last used", "revoked")
    for r in records:
        d = r.to_dict()
        table.add_row(
            d["id"], d["name"], d["prefix"], d["role"], d["user_id"],
            d["last_used_at"] or "-", d["revoked_at"] or "-",
        )  # fmt: skip
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str, db: DbOpt = None) -> None:
    """Revoke an API key."""
    from genq.service.keys import ApiKeys

    record = _with_store(db, lambda store: ApiKeys(store).revoke(key_id))
    console.print_json(data=record.to_dict())


@credits_app.command("grant")
def credits_grant(
    user: Annotated[str, typer.Argument(help="the user")],
    amount: Annotated[int, typer.Argument(help="credits to add")],
    note: Annotated[str | None, typer.Option(help="why")] = None,
    db: DbOpt = None,
) -> None:
    """Add credits to a user's ledger."""
    from genq.service.credits import CreditService

    entry = _with_store(
        db, lambda store: CreditService(store, {}).grant(user, amount, "grant", note)
    )
    console.print_json(data={"user_id": user, **entry.to_dict()})


def main() -> None:
    """Entry point of the ``genq`` script."""
    app()


if __name__ == "__main__":
    main()
