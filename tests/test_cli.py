"""The `pimsync` command line, driven as a user drives it, on a fresh var dir and SQLite file per test.

Commands run through typer's CliRunner in a worker thread (each command calls
`asyncio.run` itself, which cannot nest in the test's event loop); a Ctrl-C
needs a process of its own, and gets one. Whether a
token works is checked the way a client finds out: a GraphQL request through
the ASGI app, on the database the CLI wrote.
"""

from __future__ import annotations

import asyncio
import importlib.abc
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, inspect, select
from typer.testing import CliRunner, Result

from app.cli.commands import app as pimsync
from app.cli.main import main
from app.container import open_container
from app.db.engine import Database
from app.db.migrate import alembic_config, head_revision
from app.db.models import Product
from app.domain.scopes import ALL_SCOPES
from app.main import create_app
from app.services.importing.importer import BATCH_SIZE
from app.settings import Environment, Settings, load_settings
from tests.catalog_fixtures import PRODUCT
from tests.conftest import postgres_available
from tests.ports import UNREACHABLE_POSTGRES, closed_port, silent_port

LOCALES = "{ locales { code enabled } }"
TOKEN = re.compile(r"pim_[A-Za-z0-9_-]{20,}")


@dataclass
class Cli:
    """One user's machine: a var dir and a SQLite database, and the Redis the tests use."""

    tmp: Path
    database_url: str
    redis_url: str | None

    @property
    def env(self) -> dict[str, str | None]:
        return {
            "PIMSYNC_VAR_DIR": str(self.tmp / "var"),
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "ENVIRONMENT": "test",
            "SECRET_KEYS": None,
            "COLUMNS": "80",
            "NO_COLOR": "1",
        }

    async def __call__(self, *args: str) -> Result:
        """`pimsync ARGS...`; the result carries exit code, stdout and stderr."""
        return await asyncio.to_thread(CliRunner().invoke, pimsync, list(args), env=self.env)

    async def ok(self, *args: str) -> Result:
        result = await self(*args)
        assert result.exit_code == 0, f"pimsync {' '.join(args)} exited {result.exit_code}:\n{result.output}"
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        return result

    async def graphql(self, token: str, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        """POST a GraphQL request with `token`, through the app, on this CLI's database."""
        settings = Settings(
            environment=Environment.TEST,
            var_dir=self.tmp / "var",
            database_url=self.database_url,
            redis_url=self.redis_url,
        )
        container = await open_container(settings)
        try:
            transport = httpx.ASGITransport(app=create_app(settings, container=container))
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                headers = {"Authorization": f"Bearer {token}"}
                return await http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
        finally:
            await container.close()


@pytest.fixture
def cli(tmp_path: Path, redis_url: str | None) -> Cli:
    return Cli(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'pimsync.sqlite3'}", redis_url)


@pytest.fixture
def migrated(cli: Cli, migrated_sqlite: Callable[[Path], str]) -> Cli:
    """A user's machine whose database is migrated (as `pimsync migrate` leaves it: the tests of that command start
    from `cli`)."""
    migrated_sqlite(cli.tmp / "pimsync.sqlite3")
    return cli


async def create_token(cli: Cli, *args: str) -> str:
    """`tokens create ARGS`: the token is the last line printed, alone."""
    return last_line_token(await cli.ok("tokens", "create", *args))


def last_line_token(result: Result) -> str:
    """The token, which must be the last line printed, alone (on stdout, and with nothing on stderr after it)."""
    last = result.stdout.rstrip("\n").splitlines()[-1]
    assert TOKEN.fullmatch(last), f"the last line is not a token: {last!r}\n{result.output}"
    assert result.output.rstrip("\n").splitlines()[-1] == last
    return last


def table_rows(output: str) -> list[list[str]]:
    """The body rows of a rich table as cells, a cell's wrapped lines joined back with spaces."""
    rows: list[list[str]] = []
    for line in output.splitlines():
        if not line.startswith("│"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if cells[0]:
            rows.append(cells)
        elif rows:
            rows[-1] = [f"{before} {after}".strip() for before, after in zip(rows[-1], cells, strict=True)]
    return rows


def scopes_of(cell: str) -> list[str]:
    """A scopes cell as a list, however the table wrapped or folded it."""
    return cell.replace(" ", "").split(",")


async def table_names(database_url: str) -> set[str]:
    db = Database(database_url)
    try:
        async with db.reader() as session:
            connection = await session.connection()
            return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await db.dispose()


HELP_SAYS = [
    (["worker"], "sync jobs, channel webhooks, conflict resolutions and scheduled syncs"),
    (["serve"], "channels' webhooks"),
    (["run"], "Redis is an embedded server unless REDIS_URL is set"),
    (["run"], "an admin token for the demo tenant"),
    (["tokens", "revoke"], "The token's id, from `pimsync tokens list`."),
    (["tokens", "create"], "created with its first token"),
    (["tokens", "list"], "`pimsync tenants list` lists them"),
    (["catalog", "scopes"], "Comma-separated scope codes."),
    (["catalog", "locales"], "the first is the default locale"),
    (["import", "products"], ".jsonl, .ndjson or .json"),
    (["sync"], "2 when what it was given cannot be used"),
]


@pytest.mark.parametrize(("command", "said"), HELP_SAYS, ids=[f"{' '.join(c)}: {said}" for c, said in HELP_SAYS])
async def test_each_command_helps_with_what_it_does(cli: Cli, command: list[str], said: str) -> None:
    result = await invoke_with(cli, {"COLUMNS": "400"}, *command, "--help")
    assert result.exit_code == 0, result.output
    assert said in " ".join(result.stdout.split()), result.stdout


LOADED_BY = """
import sys
from app.cli.main import main
sys.argv = ["pimsync", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    print(exc.code, *sorted({name.partition(".")[0] for name in sys.modules}))
"""
HEAVY = {"sqlalchemy", "alembic", "pydantic_settings", "uvicorn", "arq", "redis", "httpx", "structlog", "strawberry"}
FAST_ANSWERS = [(["--help"], 0), (["sync", "--help"], 0), (["catalog"], 2), (["serve", "--port", "70000"], 2)]


@pytest.mark.parametrize(("command", "exit_code"), FAST_ANSWERS, ids=[" ".join(c) for c, _ in FAST_ANSWERS])
def test_help_and_a_malformed_command_line_answer_without_loading_the_services(
    command: list[str], exit_code: int
) -> None:
    """Every `pimsync` run paid a second or more for the database, Redis, the server and every channel before it
    could say its help or that an option is wrong: those are for a command that runs."""
    done = subprocess.run([sys.executable, "-c", LOADED_BY, *command], capture_output=True, text=True, check=True)
    code, *loaded = done.stdout.splitlines()[-1].split()
    assert code == str(exit_code), done.stdout + done.stderr
    assert HEAVY.isdisjoint(loaded), sorted(HEAVY & set(loaded))


def test_a_liveness_probe_answers_without_loading_the_worker(cli: Cli) -> None:
    """`pimsync worker --check` runs every few seconds on every host: it read one key, after loading every task,
    service and channel of the worker (over a second of CPU each time)."""
    env = {name: value for name, value in {**os.environ, **cli.env}.items() if value is not None}
    env["PIMSYNC_QUEUE"] = f"probe-{cli.tmp.name}"  # no worker polls it: the probe says so and exits 1
    done = subprocess.run(
        [sys.executable, "-c", LOADED_BY, "worker", "--check"], env=env, capture_output=True, text=True, check=True
    )
    code, *loaded = done.stdout.splitlines()[-1].split()
    assert code == "1", done.stdout + done.stderr
    assert "no worker on" in done.stderr, done.stderr
    unneeded = {"arq", "alembic", "strawberry", "uvicorn"} & set(loaded)
    assert not unneeded, sorted(unneeded)


async def test_migrate_creates_the_schema_and_a_second_run_changes_nothing(cli: Cli) -> None:
    assert not (cli.tmp / "pimsync.sqlite3").exists()
    head = head_revision(cli.database_url)
    first = await cli.ok("migrate")
    assert first.stdout.splitlines() == [f"Migrated a new database to revision {head}, the latest schema."]
    assert "Running upgrade" in first.output
    assert "Context impl" not in first.output, "alembic's set-up lines are not an operator's business"
    tables = await table_names(cli.database_url)
    assert {"tenants", "api_tokens", "products", "alembic_version"} <= tables
    token = await create_token(cli, "--tenant", "acme", "--scopes", "catalog.view")

    second = await cli.ok("migrate")
    assert second.stdout.splitlines() == [
        f"Nothing to migrate: the database is already at revision {head}, the latest schema."
    ]
    assert "alembic" not in second.output, "nothing was migrated, so nothing of alembic's is told"
    assert await table_names(cli.database_url) == tables
    assert (await cli.graphql(token, LOCALES)).status_code == 200, "data written before the second run is kept"
    db = Database(cli.database_url)
    try:
        async with db.reader() as session:
            connection = await session.connection()
            [revision] = (await connection.exec_driver_sql("SELECT version_num FROM alembic_version")).scalars()
    finally:
        await db.dispose()
    assert revision == head


async def test_migrate_says_from_which_revision_it_brought_the_database(migrated: Cli) -> None:
    """`migrate` said "Database is at the latest schema." whether it had applied migrations or found nothing to do."""
    head = head_revision(migrated.database_url)
    previous = await asyncio.to_thread(_previous_revision, migrated.database_url)
    await asyncio.to_thread(_downgrade_to, migrated.database_url, previous)
    result = await migrated.ok("migrate")
    assert result.stdout.splitlines() == [
        f"Migrated the database from revision {previous} to {head}, the latest schema."
    ]


def _previous_revision(database_url: str) -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(database_url)).get_revision(head_revision(database_url))
    assert isinstance(script.down_revision, str)
    return script.down_revision


def _downgrade_to(database_url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(database_url), revision)


async def test_migrate_on_a_fresh_checkout_makes_the_var_dir(cli: Cli) -> None:
    """The default database, a SQLite file under PIMSYNC_VAR_DIR, whose folder does not exist yet."""
    fresh = {**cli.env, "DATABASE_URL": None, "PIMSYNC_VAR_DIR": str(cli.tmp / "checkout" / "var")}
    result = await asyncio.to_thread(CliRunner().invoke, pimsync, ["migrate"], env=fresh)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    database = cli.tmp / "checkout" / "var" / "pimsync.sqlite3"
    assert "tenants" in await table_names(f"sqlite+aiosqlite:///{database}")


async def test_the_var_dir_a_command_makes_is_readable_by_its_owner_only(cli: Cli) -> None:
    """The var dir holds the SQLite database (every tenant's catalog, conflicts with their values, webhook
    deliveries), the embedded Redis' dump and the secret key: it was made 0755 and the database in it 0644, so any
    other user of the machine could copy every tenant's data, the key file alone being kept private."""
    var_dir = cli.tmp / "checkout" / "var"
    fresh = {**cli.env, "DATABASE_URL": None, "PIMSYNC_VAR_DIR": str(var_dir)}
    result = await asyncio.to_thread(CliRunner().invoke, pimsync, ["migrate"], env=fresh)
    assert result.exit_code == 0, result.output
    assert (var_dir / "pimsync.sqlite3").exists()
    assert stat.S_IMODE(var_dir.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    "command", [("tenants", "list"), ("tokens", "list", "--tenant", "acme"), ("worker", "--check")]
)
async def test_a_read_only_command_on_a_fresh_checkout_leaves_nothing_behind(
    cli: Cli, command: tuple[str, ...]
) -> None:
    """`tenants list` refused the database as never migrated, rightly, but only after SQLite had made an empty
    pimsync.sqlite3 (and its folder) under PIMSYNC_VAR_DIR: a command that reads must not make the database."""
    var_dir = cli.tmp / "checkout" / "var"
    fresh = {**cli.env, "DATABASE_URL": None, "PIMSYNC_VAR_DIR": str(var_dir)}
    result = await asyncio.to_thread(CliRunner().invoke, pimsync, list(command), env=fresh)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    assert not var_dir.exists(), sorted(var_dir.rglob("*"))


NEWER = "9999"
"""A revision of a release newer than this code."""


async def _stamp(database_url: str, revision: str) -> None:
    """The database as a newer release's `pimsync migrate` left it: at a revision this code does not know."""
    db = Database(database_url)
    try:
        async with db.transaction() as session:
            connection = await session.connection()
            await connection.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{revision}'")
    finally:
        await db.dispose()


async def test_a_database_a_newer_release_migrated_is_refused_in_one_line(migrated: Cli) -> None:
    """`migrate` and `run` printed alembic's traceback ("Can't locate revision"); other commands said to run
    `pimsync migrate`, which cannot help. Each now says a newer release migrated it, and changes nothing."""
    token = await create_token(migrated, "--tenant", "acme", "--scopes", "catalog.view")
    await _stamp(migrated.database_url, NEWER)
    for command in (["migrate"], ["run", "--port", "0"], ["tokens", "list", "--tenant", "acme"]):
        result = await migrated(*command)
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), (command, result.output)
        [line] = result.stderr.splitlines()[-1:]
        assert f"the database is at revision {NEWER}, newer than this pimsync knows" in line, result.stderr
        assert "Traceback" not in result.output and "pimsync migrate" not in result.output, result.output
    await _stamp(migrated.database_url, head_revision(migrated.database_url) or "")
    assert (await migrated.graphql(token, LOCALES)).status_code == 200, "the data is as it was"


async def test_token_is_the_last_line_and_authenticates(migrated: Cli) -> None:
    result = await migrated.ok("tokens", "create", "--tenant", "acme", "--scopes", "catalog.view,catalog.edit")
    token = last_line_token(result)
    assert "Created tenant acme" in result.stdout
    assert "catalog.view, catalog.edit" in result.stdout
    response = await migrated.graphql(token, LOCALES)
    assert response.status_code == 200
    assert response.json() == {"data": {"locales": []}}
    edit = 'mutation { setLocales(codes: ["en_US"]) { locales { code } userErrors { code } } }'
    assert (await migrated.graphql(token, edit)).json()["data"]["setLocales"]["userErrors"] == []


async def test_a_token_without_edit_scope_cannot_edit(migrated: Cli) -> None:
    token = await create_token(migrated, "--tenant", "acme", "--scopes", "catalog.view", "--name", "read only")
    assert (await migrated.graphql(token, LOCALES)).status_code == 200
    edit = 'mutation { setLocales(codes: ["en_US"]) { locales { code } } }'
    errors = (await migrated.graphql(token, edit)).json()["errors"]
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_scopes_all_grants_every_scope(migrated: Cli) -> None:
    token = await create_token(migrated, "--tenant", "acme", "--scopes", "all", "--name", "admin")
    [row] = table_rows((await migrated.ok("tokens", "list", "--tenant", "acme")).stdout)
    assert row[1] == "admin"
    assert scopes_of(row[3]) == [str(scope) for scope in ALL_SCOPES]
    edit = 'mutation { setLocales(codes: ["en_US"]) { locales { code } userErrors { code } } }'
    assert (await migrated.graphql(token, edit)).json()["data"]["setLocales"]["userErrors"] == []


async def test_an_unknown_scope_exits_2_naming_it_and_creates_nothing(migrated: Cli) -> None:
    result = await migrated("tokens", "create", "--tenant", "acme", "--scopes", "catalog.view,catalog.delete_all")
    assert result.exit_code == 2
    assert "catalog.delete_all" in result.stderr
    assert not TOKEN.search(result.output)
    assert "acme" not in (await migrated.ok("tenants", "list")).stdout
    listing = await migrated("tokens", "list", "--tenant", "acme")
    assert listing.exit_code == 2 and "no tenant 'acme'" in listing.stderr


@pytest.mark.parametrize("scopes", ["", " ", ", ,"])
async def test_no_scope_given_exits_2_naming_the_valid_ones_and_creates_nothing(migrated: Cli, scopes: str) -> None:
    """`--scopes ""` (an unset variable in a script) said "unknown scope(s): (none given)", as if a scope named
    so had been refused."""
    line = one_line_error(await migrated("tokens", "create", "--tenant", "acme", "--scopes", scopes), exit_code=2)
    assert line == "error --scopes: no scope given; give 'all' or some of: " + ", ".join(ALL_SCOPES)
    assert "acme" not in (await migrated.ok("tenants", "list")).stdout


@pytest.mark.parametrize("code", ["", "acme corp", "acme-eu"])
async def test_a_tenant_code_that_cannot_be_used_exits_2_naming_it_and_creates_nothing(
    migrated: Cli, code: str
) -> None:
    """What the command was given cannot be used, as an unknown scope: exit 2, as the README's exit codes say."""
    line = one_line_error(await migrated("tokens", "create", "--tenant", code, "--scopes", "all"), exit_code=2)
    assert line == f"error --tenant: '{code}' is not a valid tenant code (letters, digits and _ only) (CAT-010)"
    assert (await migrated.ok("tenants", "list")).stdout.strip() == ""


async def test_a_tenant_code_longer_than_its_column_exits_2_and_creates_nothing(migrated: Cli) -> None:
    """A tenant's code column holds 64 characters, fewer than other codes' 100: a code of 65 to 100 was stored
    whole on SQLite and a traceback on PostgreSQL."""
    for code in ("t" * 65, "t" * 150):
        line = one_line_error(await migrated("tokens", "create", "--tenant", code, "--scopes", "all"), exit_code=2)
        assert line == f"error --tenant: a tenant code is at most 64 characters, this one has {len(code)} (CAT-010)"
    assert (await migrated.ok("tenants", "list")).stdout.strip() == ""
    assert TOKEN.search((await migrated("tokens", "create", "--tenant", "t" * 64, "--scopes", "all")).output)


@pytest.mark.parametrize(("name", "said"), [("", "0"), (" ", "0"), ("n" * 201, "201")])
async def test_a_token_name_that_cannot_be_stored_exits_2_and_creates_nothing(
    migrated: Cli, name: str, said: str
) -> None:
    """The name column holds 200 characters: a longer name was stored whole on SQLite and a traceback on
    PostgreSQL; an empty one left tokens nobody could tell apart, and values written as "token:"."""
    result = await migrated("tokens", "create", "--tenant", "acme", "--scopes", "all", "--name", name)
    line = one_line_error(result, exit_code=2)
    assert line == f"error --name: a token's name is 1 to 200 characters, this one has {said} (CON-001)"
    assert not TOKEN.search(result.output)
    assert "acme" not in (await migrated.ok("tenants", "list")).stdout


async def test_token_list_shows_names_and_scopes_but_never_the_token(migrated: Cli) -> None:
    viewer = await create_token(migrated, "--tenant", "acme", "--scopes", "catalog.view", "--name", "storefront")
    editor = await create_token(
        migrated, "--tenant", "acme", "--scopes", "catalog.view,catalog.edit", "--name", "catalog app"
    )
    await create_token(migrated, "--tenant", "other", "--scopes", "catalog.view", "--name", "not ours")
    result = await migrated.ok("tokens", "list", "--tenant", "acme")
    assert viewer not in result.output and editor not in result.output
    shown = {row[1]: scopes_of(row[3]) for row in table_rows(result.stdout)}
    assert shown == {"storefront": ["catalog.view"], "catalog app": ["catalog.view", "catalog.edit"]}


async def test_output_read_by_a_script_is_not_wrapped(migrated: Cli) -> None:
    """stdout that is not a terminal (`pimsync tokens list | grep ...`) was wrapped at 80 columns (COLUMNS, or
    rich's default for a pipe): a token's scopes over three lines, a table's cells folded into a dozen rows."""
    created = await migrated.ok("tokens", "create", "--tenant", "acme", "--scopes", "all", "--name", "admin")
    [said, *_] = created.stdout.splitlines()[1:]
    assert said.startswith("Token 1 'admin' for acme: ") and said.endswith(", ".join(ALL_SCOPES)), created.stdout
    listed = (await migrated.ok("tokens", "list", "--tenant", "acme")).stdout.splitlines()
    body = [line for line in listed if line.startswith("│")]
    assert len(body) == 1, listed
    assert ", ".join(ALL_SCOPES) in body[0]


async def test_revoked_token_stops_working(migrated: Cli) -> None:
    keep = await create_token(migrated, "--tenant", "acme", "--scopes", "catalog.view", "--name", "keep")
    gone = await create_token(migrated, "--tenant", "acme", "--scopes", "catalog.view", "--name", "gone")
    assert (await migrated.graphql(gone, LOCALES)).status_code == 200
    rows = table_rows((await migrated.ok("tokens", "list", "--tenant", "acme")).stdout)
    [gone_id] = [row[0] for row in rows if row[1] == "gone"]

    result = await migrated.ok("tokens", "revoke", "--tenant", "acme", gone_id)
    assert f"Revoked token {gone_id} 'gone'" in result.stdout
    response = await migrated.graphql(gone, LOCALES)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await migrated.graphql(keep, LOCALES)).status_code == 200
    revoked = {row[1]: row[6] for row in table_rows((await migrated.ok("tokens", "list", "--tenant", "acme")).stdout)}
    assert revoked["gone"] and not revoked["keep"]


async def test_revoking_a_revoked_token_says_so_and_keeps_its_first_revocation(migrated: Cli) -> None:
    """A second revoke (a script run again) said "Revoked token" again, as if it had just done it: it is
    idempotent, so exit 0, but says the token was already revoked, and when."""
    await create_token(migrated, "--tenant", "acme", "--scopes", "catalog.view", "--name", "gone")
    [token_id] = [row[0] for row in table_rows((await migrated.ok("tokens", "list", "--tenant", "acme")).stdout)]
    await migrated.ok("tokens", "revoke", "--tenant", "acme", token_id)
    [first] = [row[6] for row in table_rows((await migrated.ok("tokens", "list", "--tenant", "acme")).stdout)]

    again = await migrated.ok("tokens", "revoke", "--tenant", "acme", token_id)
    assert again.stdout.splitlines() == [f"Token {token_id} 'gone' was already revoked ({first} UTC); nothing changed."]
    assert "Revoked token" not in again.output
    [kept] = [row[6] for row in table_rows((await migrated.ok("tokens", "list", "--tenant", "acme")).stdout)]
    assert kept == first


async def test_revoking_an_unknown_token_is_a_clear_error(migrated: Cli) -> None:
    await create_token(migrated, "--tenant", "acme", "--scopes", "catalog.view")
    result = await migrated("tokens", "revoke", "--tenant", "acme", "999")
    assert result.exit_code == 2, "the id given names no token"
    assert "has no token 999" in result.stderr
    assert "Traceback" not in result.output


async def test_every_command_logs_as_log_level_and_log_json_say(migrated: Cli) -> None:
    """A short command's log lines go where the server's go: to stderr, as JSON with LOG_JSON, none below
    LOG_LEVEL; never into the output a script reads."""
    as_json = await invoke_with(migrated, {"LOG_JSON": "true"}, "keys", "rotate")
    assert as_json.exit_code == 0, as_json.output
    assert as_json.stdout.splitlines() == ["Re-encrypted the credentials of 0 connector(s) under the newest key."]
    [rotated] = [json.loads(line) for line in as_json.stderr.splitlines() if "credentials.rotated" in line]
    assert rotated["level"] == "info" and rotated["rotated"] == 0, rotated
    quiet = await invoke_with(migrated, {"LOG_LEVEL": "WARNING"}, "keys", "rotate")
    assert quiet.exit_code == 0 and "credentials.rotated" not in quiet.output, quiet.output


async def test_tenants_list_shows_each_tenant_once(migrated: Cli) -> None:
    assert (await migrated.ok("tenants", "list")).stdout.strip() == ""
    for tenant in ("acme", "globex", "acme"):
        await create_token(migrated, "--tenant", tenant, "--scopes", "catalog.view")
    lines = (await migrated.ok("tenants", "list")).stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["acme", "globex"]


async def test_import_reports_counts_writes_rejects_and_exits_3(migrated: Cli) -> None:
    token = await create_token(migrated, "--tenant", "acme", "--scopes", "catalog.view,catalog.edit")
    locales = await migrated.ok("catalog", "locales", "--tenant", "acme", "de_DE,en_US")
    assert [line.split()[0] for line in locales.stdout.splitlines()] == ["de_DE", "en_US"]
    attributes = migrated.tmp / "attributes.jsonl"
    attributes.write_text(
        json.dumps({"code": "name", "type": "TEXT", "localizable": True, "labels": {"de_DE": "Name"}})
        + "\n"
        + json.dumps({"code": "stock", "type": "NUMBER", "localizable": False})
        + "\n",
        encoding="utf-8",
    )
    imported = await migrated.ok("import", "attributes", str(attributes), "--tenant", "acme")
    assert "Imported 2 attributes" in imported.stdout and "Rejected 0." in imported.stdout

    products = migrated.tmp / "products.jsonl"
    lines = [
        {"sku": "A-1", "values": [{"attribute": "name", "locale": "de_DE", "data": "Hemd"}]},
        {"sku": "A-2", "values": [{"attribute": "name", "locale": "fr_FR", "data": "Chemise"}]},
        {"sku": "A-3", "values": [{"attribute": "name", "locale": "en_US", "data": "Shirt"}]},
    ]
    products.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    rejects = migrated.tmp / "rejects.jsonl"

    result = await migrated("import", "products", str(products), "--tenant", "acme", "--rejects", str(rejects))
    assert result.exit_code == 3, result.output
    assert "Imported 2 products" in result.stdout
    assert "Rejected 1." in result.stdout
    assert "line 2:" in result.stderr and "fr_FR" in result.stderr
    [reject] = [json.loads(line) for line in rejects.read_text(encoding="utf-8").splitlines()]
    assert reject["line"] == 2
    assert "fr_FR" in reject["reasons"][0] and "CAT-002" in reject["reasons"][0]

    stored = {
        sku: (await migrated.graphql(token, PRODUCT, {"sku": sku})).json()["data"]["product"]
        for sku in ("A-1", "A-2", "A-3")
    }
    assert stored["A-2"] is None, "nothing of a rejected row is written"
    assert stored["A-1"]["values"] == [{"attribute": "name", "locale": "de_DE", "scope": None, "data": "Hemd"}]
    assert stored["A-3"]["values"][0]["data"] == "Shirt"


async def test_a_clean_import_exits_0(migrated: Cli) -> None:
    await create_token(migrated, "--tenant", "acme", "--scopes", "catalog.view")
    await migrated.ok("catalog", "locales", "--tenant", "acme", "en_US")
    attributes = migrated.tmp / "attributes.jsonl"
    attributes.write_text(json.dumps({"code": "name", "type": "TEXT", "localizable": True}) + "\n")
    await migrated.ok("import", "attributes", str(attributes), "--tenant", "acme")
    products = migrated.tmp / "products.jsonl"
    products.write_text(json.dumps({"sku": "A-1", "values": [{"attribute": "name", "locale": "en_US", "data": "x"}]}))
    result = await migrated.ok("import", "products", str(products), "--tenant", "acme")
    assert result.stdout.splitlines() == ["Imported 1 products (1 changed, 0 unchanged).", "Rejected 0."]


async def test_a_products_csv_with_a_sku_on_two_rows_says_one_product_and_names_the_repeat(migrated: Cli) -> None:
    """It said "Imported 2 products" for the one product that resulted."""
    token = await create_token(migrated, "--tenant", "acme", "--scopes", "catalog.view")
    attributes = migrated.tmp / "attributes.jsonl"
    attributes.write_text(json.dumps({"code": "name", "type": "TEXT", "localizable": False}) + "\n")
    await migrated.ok("import", "attributes", str(attributes), "--tenant", "acme")
    products = migrated.tmp / "products.csv"
    products.write_text("sku;name\nDUP-1;First\nDUP-1;Second\n", encoding="utf-8")
    result = await migrated.ok("import", "products", str(products), "--tenant", "acme")
    assert result.stdout.splitlines() == [
        "Imported 1 products (1 changed, 0 unchanged).",
        "Rejected 0.",
        "Repeated 1 (a SKU an earlier row had: applied over it, counted once):",
        "  line 3: DUP-1 (first on line 2)",
    ]
    product = (await migrated.graphql(token, PRODUCT, {"sku": "DUP-1"})).json()["data"]["product"]
    assert product["values"] == [{"attribute": "name", "locale": None, "scope": None, "data": "Second"}]


async def test_importing_a_products_csv_with_only_price_eur_keeps_the_usd_price(migrated: Cli) -> None:
    token = await create_token(migrated, "--tenant", "acme", "--scopes", "catalog.view")
    await migrated.ok("catalog", "currencies", "--tenant", "acme", "EUR,USD")
    attributes = migrated.tmp / "attributes.jsonl"
    attributes.write_text(json.dumps({"code": "price", "type": "PRICE", "localizable": False}) + "\n")
    await migrated.ok("import", "attributes", str(attributes), "--tenant", "acme")
    both, eur_only = migrated.tmp / "both.csv", migrated.tmp / "eur.csv"
    both.write_text("sku;price-EUR;price-USD\nAKNSTK;2;3\n", encoding="utf-8")
    eur_only.write_text("sku;price-EUR\nAKNSTK;2.50\n", encoding="utf-8")
    await migrated.ok("import", "products", str(both), "--tenant", "acme")
    result = await migrated.ok("import", "products", str(eur_only), "--tenant", "acme")
    assert "Imported 1 products (1 changed" in result.stdout
    product = (await migrated.graphql(token, PRODUCT, {"sku": "AKNSTK"})).json()["data"]["product"]
    assert product["values"] == [
        {"attribute": "price", "locale": None, "scope": None, "data": {"EUR": "2.50", "USD": "3"}}
    ]


COMMANDS_OF_A_TENANT = [
    ["tokens", "list"],
    ["tokens", "revoke", "1"],
    ["catalog", "locales", "en_US"],
    ["catalog", "scopes", "ecommerce"],
    ["catalog", "currencies", "EUR"],
    ["import", "attributes", "{file}"],
    ["import", "products", "{file}"],
    ["sync", "shop"],
]


@pytest.mark.parametrize("command", COMMANDS_OF_A_TENANT, ids=" ".join)
async def test_every_command_says_an_unknown_tenant_alike_with_how_to_make_one_and_exits_2(
    migrated: Cli, command: list[str]
) -> None:
    products = migrated.tmp / "products.jsonl"
    products.write_text(json.dumps({"sku": "A-1", "values": []}) + "\n")
    args = [str(products) if arg == "{file}" else arg for arg in command]
    line = one_line_error(await migrated(*args, "--tenant", "ghost"), exit_code=2)
    assert line == (
        "error no tenant 'ghost' (`pimsync tenants list` lists them; "
        "`pimsync tokens create --tenant ghost --scopes all` creates it with its first token)"
    )


UNREADABLE_FILES = [
    ("products.txt", "sku\nA-1\n", "products.txt: expected a .jsonl (JSON Lines) or .csv (Akeneo flat export) file"),
    ("products.csv", "name\nShirt\n", "the header has no sku column: a products.csv row is found by its sku"),
]


@pytest.mark.parametrize(("name", "content", "said"), UNREADABLE_FILES, ids=[name for name, _, _ in UNREADABLE_FILES])
async def test_a_file_import_cannot_read_exits_2_as_a_file_that_is_not_there(
    migrated: Cli, name: str, content: str, said: str
) -> None:
    await create_token(migrated, "--tenant", "acme", "--scopes", "catalog.view")
    file = migrated.tmp / name
    file.write_text(content, encoding="utf-8")
    assert (
        await migrated("import", "products", str(migrated.tmp / "missing.jsonl"), "--tenant", "acme")
    ).exit_code == 2
    result = await migrated("import", "products", str(file), "--tenant", "acme")
    assert one_line_error(result, exit_code=2) == f"error {said}"
    assert result.stdout == "", "nothing, not even a blank line, before the error"


CODES_THAT_CANNOT_BE_USED = [
    (["catalog", "locales", "en_US,xx_YY"], "error CODES: 'xx_YY' is not a known locale code (CAT-001)"),
    (["catalog", "currencies", "EUR,EURO"], "error CODES: 'EURO' is not an ISO 4217 currency code (CAT-014)"),
    (["catalog", "scopes", "ecommerce,Print Shop"], "error CODES: 'Print Shop' is not a valid code (CAT-010)"),
    (["catalog", "scopes", ","], "error CODES: give at least one scope (CAT-015)"),
]


@pytest.mark.parametrize(
    ("command", "said"), CODES_THAT_CANNOT_BE_USED, ids=[cmd[1] for cmd, _ in CODES_THAT_CANNOT_BE_USED]
)
async def test_a_catalog_code_that_cannot_be_used_is_named_as_the_argument_and_exits_2(
    migrated: Cli, command: list[str], said: str
) -> None:
    await create_token(migrated, "--tenant", "acme", "--scopes", "catalog.view")
    """Named as the command names them (its CODES argument), not as the API's input fields."""
    line = one_line_error(await migrated(*command, "--tenant", "acme"), exit_code=2)
    assert line == said


async def test_an_unknown_connector_is_named_as_the_sync_argument_and_exits_2(migrated: Cli) -> None:
    await create_token(migrated, "--tenant", "acme", "--scopes", "catalog.view")
    line = one_line_error(await migrated("sync", "nope", "--tenant", "acme"), exit_code=2)
    assert line == "error CONNECTOR: connector 'nope' does not exist (CON-003)"


async def test_import_into_a_database_never_migrated_says_to_migrate(cli: Cli) -> None:
    products = cli.tmp / "products.jsonl"
    products.write_text(json.dumps({"sku": "A-1", "values": []}) + "\n")
    result = await cli("import", "products", str(products), "--tenant", "acme")
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception
    assert "the database was never migrated" in result.stderr and "run `pimsync migrate`" in result.stderr


@pytest.mark.parametrize("sync_type", ["SINGLE", "single"])
async def test_a_single_sync_without_a_sku_says_which_option_is_missing(cli: Cli, sync_type: str) -> None:
    """The command's own words (--sku), not the API's input field, and before anything is opened or written."""
    result = await cli("sync", "shop", "--tenant", "acme", "--type", sync_type)
    assert result.exit_code == 2, result.output
    assert "--sku" in result.stderr and "productSkus" not in result.stderr
    assert not (cli.tmp / "pimsync.sqlite3").exists(), "the command opened the database before refusing"


@pytest.mark.parametrize("sync_type", ["full", "Incremental"])
async def test_sync_takes_its_type_in_any_case(migrated: Cli, sync_type: str) -> None:
    line = one_line_error(await migrated("sync", "shop", "--tenant", "ghost", "--type", sync_type), exit_code=2)
    assert line.startswith("error no tenant 'ghost'"), "the type was taken: the tenant is what is wrong"


async def test_setup_mistakes_are_one_line_errors_not_tracebacks(cli: Cli) -> None:
    """A database never migrated (for `sync` too), a --rejects file with nowhere to go."""
    unmigrated = await cli("sync", "shop", "--tenant", "acme")
    assert unmigrated.exit_code == 1 and isinstance(unmigrated.exception, SystemExit), unmigrated.exception
    assert "the database was never migrated" in unmigrated.stderr
    products = cli.tmp / "products.jsonl"
    products.write_text(json.dumps({"sku": "A-1", "values": []}) + "\n")
    nowhere = str(cli.tmp / "missing" / "rejects.jsonl")
    refused = await cli("import", "products", str(products), "--tenant", "acme", "--rejects", nowhere)
    assert refused.exit_code == 2 and isinstance(refused.exception, SystemExit), refused.exception
    assert "does not exist" in refused.stderr
    a_folder = await cli("import", "products", str(products), "--tenant", "acme", "--rejects", str(cli.tmp))
    assert a_folder.exit_code == 2 and isinstance(a_folder.exception, SystemExit), a_folder.exception
    assert a_folder.stderr.startswith(f"error --rejects: {cli.tmp} cannot be written to (Is a directory)")
    itself = await cli("import", "products", str(products), "--tenant", "acme", "--rejects", str(products))
    assert itself.exit_code == 2 and "--rejects: it is the file being imported" in itself.stderr
    assert products.read_text() == json.dumps({"sku": "A-1", "values": []}) + "\n", "it was emptied"


async def _catalog_with_a_name(cli: Cli) -> None:
    await create_token(cli, "--tenant", "acme", "--scopes", "catalog.view")
    attributes = cli.tmp / "attributes.jsonl"
    attributes.write_text(json.dumps({"code": "name", "type": "TEXT", "localizable": False}) + "\n")
    await cli.ok("import", "attributes", str(attributes), "--tenant", "acme")


async def test_a_line_with_a_field_of_the_wrong_type_is_one_rejection_not_a_crash(migrated: Cli) -> None:
    await _catalog_with_a_name(migrated)
    products = migrated.tmp / "products.jsonl"
    lines = [
        {"sku": "T-0", "values": [{"attribute": "name", "data": "ok"}]},
        {"sku": "T-1", "family": 123, "values": []},
    ]
    products.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = await migrated("import", "products", str(products), "--tenant", "acme")
    assert result.exit_code == 3, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Imported 1 products" in result.stdout and "Rejected 1." in result.stdout
    assert "line 2: family must be a code (a string) or null" in result.stderr


async def test_an_unclosed_quote_is_a_warning_that_the_file_was_not_read_to_its_end(migrated: Cli) -> None:
    await _catalog_with_a_name(migrated)
    products = migrated.tmp / "products.csv"
    rows = [f"UQ-{n};after{n}" for n in range(50)]
    rows[1] = 'UQ-1;"unclosed'
    products.write_text("sku;name\n" + "\n".join(rows) + "\n")
    result = await migrated("import", "products", str(products), "--tenant", "acme")
    assert result.exit_code == 3, result.output
    assert "Imported 1 products" in result.stdout and "Rejected 1." in result.stdout
    assert (
        "warning the file was not read to its end: a quote opened on line 3 is never closed: "
        "the 48 lines after it went into its cell and were not imported"
    ) in result.stderr


PIMSYNC = Path(sys.executable).with_name("pimsync")
LONG_IMPORT_ROWS = 200 * BATCH_SIZE
"""Many batches: the import is still running when the test's Ctrl-C comes, after its first batch."""
INTERRUPTED = re.compile(
    r"interrupted: products\.jsonl was imported up to line (\d+) \(([\d,]+) products\); nothing after it was"
)


async def stored_skus(database_url: str) -> list[str]:
    db = Database(database_url)
    try:
        async with db.reader() as session:
            return list(await session.scalars(select(Product.sku).order_by(Product.sku)))
    finally:
        await db.dispose()


async def until_a_batch_is_stored(process: asyncio.subprocess.Process, database_url: str) -> None:
    db = Database(database_url)
    deadline = time.monotonic() + 60
    try:
        while process.returncode is None and time.monotonic() < deadline:
            async with db.reader() as session:
                if await session.scalar(select(func.count()).select_from(Product)):
                    return
            await asyncio.sleep(0.02)
    finally:
        await db.dispose()
    pytest.fail(f"no batch stored; the import exited {process.returncode}")


async def test_ctrl_c_during_an_import_is_one_line_naming_what_was_kept(migrated: Cli) -> None:
    """Ctrl-C (SIGINT to the terminal's process group) mid-import: exit 130 with one line, no traceback, and the
    database holds exactly the rows up to the line it names, whole."""
    await _catalog_with_a_name(migrated)
    products = migrated.tmp / "products.jsonl"
    with products.open("w", encoding="utf-8") as file:
        for n in range(LONG_IMPORT_ROWS):
            file.write(json.dumps({"sku": f"C-{n:06d}", "values": [{"attribute": "name", "data": f"row {n}"}]}) + "\n")
    env = {**os.environ, **{key: value for key, value in migrated.env.items() if value is not None}}
    env.pop("SECRET_KEYS", None)
    process = await asyncio.create_subprocess_exec(
        PIMSYNC,
        "import",
        "products",
        products,
        "--tenant",
        "acme",
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        await until_a_batch_is_stored(process, migrated.database_url)
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    said = stderr.decode()
    assert process.returncode == 130, said
    [line] = said.splitlines()
    kept = INTERRUPTED.fullmatch(line)
    assert kept is not None, line
    through = int(kept[1])
    assert 0 < through < LONG_IMPORT_ROWS and int(kept[2].replace(",", "")) == through, line
    assert await stored_skus(migrated.database_url) == [f"C-{n:06d}" for n in range(through)]


async def test_ctrl_c_during_a_command_is_one_line_and_exit_130(cli: Cli) -> None:
    """A command with no Ctrl-C handling of its own (here `migrate`, between two migrations) says it was
    interrupted, not just stops half-way through its output."""
    env = {**os.environ, **{key: value for key, value in cli.env.items() if value is not None}}
    env.pop("SECRET_KEYS", None)
    process = await asyncio.create_subprocess_exec(
        PIMSYNC,
        "migrate",
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert process.stderr is not None
        said = b""
        while b"Running upgrade" not in said:
            said += await asyncio.wait_for(process.stderr.readline(), 60)
            assert said and process.returncode is None, said.decode()
        os.killpg(process.pid, signal.SIGINT)
        _, rest = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    stderr = (said + rest).decode()
    assert process.returncode == 130, stderr
    assert stderr.rstrip("\n").splitlines()[-1] == "interrupted", stderr
    assert "Traceback" not in stderr, stderr


def test_ctrl_c_while_the_commands_load_is_one_line_and_exit_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The entry point loads the commands (a second or more on a busy machine) where it can catch Ctrl-C: the
    KeyboardInterrupt Python raises at whatever import the signal lands in."""

    class CtrlCHere(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: object, target: object = None) -> None:
            if name == "app.cli.commands":
                raise KeyboardInterrupt

    monkeypatch.delitem(sys.modules, "app.cli.commands")
    monkeypatch.setattr(sys, "meta_path", [CtrlCHere(), *sys.meta_path])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 130
    assert capsys.readouterr().err == "interrupted\n"


def one_line_error(result: Result, exit_code: int = 1) -> str:
    """What a set-up mistake must look like: exit 1 (2 for a malformed setting), one `error ...` line on stderr,
    no traceback."""
    assert result.exit_code == exit_code, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    [line] = result.stderr.strip().splitlines()[-1:]
    assert line.startswith("error "), result.stderr
    return line


async def invoke_with(cli: Cli, env: dict[str, str], *args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, pimsync, list(args), env={**cli.env, **env})


async def test_migrate_on_a_database_that_does_not_answer_is_one_line(cli: Cli) -> None:
    with closed_port() as port:
        result = await invoke_with(cli, {"DATABASE_URL": UNREACHABLE_POSTGRES.format(closed_port=port)}, "migrate")
    assert "check DATABASE_URL" in one_line_error(result)


async def test_migrate_on_a_database_host_that_never_answers_gives_up_at_the_connect_timeout(cli: Cli) -> None:
    """A host that takes the connection and says nothing (a firewall dropping it): the migration's engine had no
    connect timeout of its own, and `pimsync migrate` said "TimeoutError:" and nothing else, sending an operator
    to REDIS_URL too, which migrating never touches."""
    with silent_port("127.0.0.1") as port:
        env = {
            "DATABASE_URL": UNREACHABLE_POSTGRES.format(closed_port=port),
            "PIMSYNC_DATABASE_CONNECT_TIMEOUT_SECONDS": "1",
        }
        started = time.monotonic()
        result = await invoke_with(cli, env, "migrate")
        took = time.monotonic() - started
    assert one_line_error(result) == "error the database did not answer within 1 s (check DATABASE_URL)"
    assert took < 8, f"migrate waited {took:.0f} s for a database set to be given up on after 1 s"


@pytest.mark.parametrize("redis_url", [None, "redis://127.0.0.1:6379/15"])
async def test_a_database_refusing_the_connection_names_only_database_url(cli: Cli, redis_url: str | None) -> None:
    """The socket's error names the address it could not reach, the database's: the line named REDIS_URL too,
    sending an operator to a setting that was fine."""
    with closed_port() as port:
        env = {"DATABASE_URL": UNREACHABLE_POSTGRES.format(closed_port=port)}
        result = await invoke_with(cli, {**env, "REDIS_URL": redis_url} if redis_url else env, "tenants", "list")
    line = one_line_error(result)
    assert f"('127.0.0.1', {port})" in line and line.endswith("(check DATABASE_URL)"), line


async def test_a_database_host_that_cannot_be_resolved_names_both_settings(cli: Cli) -> None:
    """A name that does not resolve says so without the name: which setting held it cannot be told."""
    env = {"DATABASE_URL": "postgresql+asyncpg://pimsync@no-such-host.invalid:5432/pimsync"}
    line = one_line_error(await invoke_with(cli, env, "tenants", "list"))
    assert line.endswith("(check DATABASE_URL and REDIS_URL)"), line


async def test_a_database_refusing_the_credentials_is_one_line_naming_why(cli: Cli) -> None:
    if not postgres_available():
        pytest.skip("PostgreSQL at 127.0.0.1:5432 does not answer")
    refused = {"DATABASE_URL": "postgresql+asyncpg://no_such_role_here:x@127.0.0.1:5432/postgres"}
    for args in (["migrate"], ["tokens", "list", "--tenant", "acme"]):
        line = one_line_error(await invoke_with(cli, refused, *args))
        assert "the database refused the connection" in line and "no_such_role_here" in line, line


MALFORMED_SETTINGS = [
    ("PIMSYNC_PORT", "eighty", "PIMSYNC_PORT: Input should be a valid integer"),
    ("PIMSYNC_PORT", "99999", "PIMSYNC_PORT: Input should be less than or equal to 65535"),
    ("PIMSYNC_PORT", "-1", "PIMSYNC_PORT: Input should be greater than or equal to 0"),
    ("ENVIRONMENT", "prod", "ENVIRONMENT: Input should be 'development', 'production' or 'test'"),
    ("DATABASE_URL", "postgresql://pimsync@db/pimsync", "error DATABASE_URL must be postgresql+asyncpg://"),
    ("DATABASE_URL", "not a url", "error DATABASE_URL must be postgresql+asyncpg://"),
    ("REDIS_URL", "http://redis.internal", "error REDIS_URL must be redis://"),
    ("LOG_LEVEL", "verbose", "error LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ("PIMSYNC_SYNC_PAGE_SIZE", "0", "PIMSYNC_SYNC_PAGE_SIZE: Input should be greater than or equal to 1"),
    ("PIMSYNC_SYNC_CHUNK_SIZE", "0", "PIMSYNC_SYNC_CHUNK_SIZE: Input should be greater than or equal to 1"),
    ("PIMSYNC_SYNC_LEASE_SECONDS", "0", "PIMSYNC_SYNC_LEASE_SECONDS: Input should be greater than or equal to 1"),
    ("GRAPHQL_MAX_DEPTH", "0", "GRAPHQL_MAX_DEPTH: Input should be greater than or equal to 1"),
    ("GRAPHQL_MAX_TOKENS", "-5", "GRAPHQL_MAX_TOKENS: Input should be greater than or equal to 1"),
]
COMMANDS_READING_SETTINGS = [
    ["migrate"],
    ["serve"],
    ["worker"],
    ["run"],
    ["tokens", "create", "--tenant", "acme", "--scopes", "all"],
    ["tokens", "list", "--tenant", "acme"],
    ["tokens", "revoke", "--tenant", "acme", "1"],
    ["tenants", "list"],
    ["catalog", "locales", "--tenant", "acme", "en_US"],
    ["catalog", "scopes", "--tenant", "acme", "ecommerce"],
    ["catalog", "currencies", "--tenant", "acme", "EUR"],
    ["import", "attributes", "{file}", "--tenant", "acme"],
    ["import", "products", "{file}", "--tenant", "acme"],
    ["keys", "rotate"],
    ["sync", "shop", "--tenant", "acme"],
]


@pytest.mark.parametrize(("variable", "value", "said"), MALFORMED_SETTINGS)
async def test_a_malformed_setting_is_one_line_naming_the_variable_and_exit_2(
    cli: Cli, variable: str, value: str, said: str
) -> None:
    """Every command that needs the settings says what is wrong, the variable named once, before it starts
    anything; exit 2, as a malformed command line."""
    empty = cli.tmp / "rows.jsonl"
    empty.write_text("")
    for command in COMMANDS_READING_SETTINGS:
        args = [str(empty) if arg == "{file}" else arg for arg in command]
        line = one_line_error(await invoke_with(cli, {variable: value}, *args), exit_code=2)
        assert said in line and line.count(variable) == 1, (command, line)
    assert not (cli.tmp / "var").exists() and not (cli.tmp / "pimsync.sqlite3").exists(), "something was started"


@pytest.mark.parametrize("command", ["serve", "run"])
@pytest.mark.parametrize("port", ["99999", "-1"])
async def test_a_port_no_socket_can_have_is_a_malformed_option_and_starts_nothing(
    cli: Cli, command: str, port: str
) -> None:
    """`--port 99999` ended in a traceback of the socket's bind (exit 1), after the migrations had run."""
    result = await cli(command, "--port", port)
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--port'" in result.stderr and "65535" not in result.stdout, result.stderr
    assert "Traceback" not in result.output and not isinstance(result.exception, OverflowError)
    assert not (cli.tmp / "var").exists() and not (cli.tmp / "pimsync.sqlite3").exists(), "something was started"


@pytest.mark.parametrize(("variable", "value", "said"), [*MALFORMED_SETTINGS, ("SECRET_KEYS", "notakey", "")])
async def test_keys_generate_needs_no_setting(cli: Cli, variable: str, value: str, said: str) -> None:
    """A new key is made from nothing: a mistake in some other variable of the service does not stop it."""
    result = await invoke_with(cli, {variable: value}, "keys", "generate")
    assert result.exit_code == 0, result.output
    Fernet(result.stdout.strip())
    assert result.stderr == ""


async def test_a_malformed_secret_keys_is_a_malformed_setting(migrated: Cli) -> None:
    line = one_line_error(await invoke_with(migrated, {"SECRET_KEYS": "notakey"}, "keys", "rotate"), exit_code=2)
    assert "SECRET_KEYS entry 1 is not a valid Fernet key" in line, line


async def test_a_command_reads_the_settings_once(migrated: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """One reading shared by the logging set-up, the command and the database it opens: two could disagree."""
    reads: list[Settings] = []

    def counted() -> Settings:
        reads.append(load_settings())
        return reads[-1]

    monkeypatch.setattr("app.settings.load_settings", counted)  # where settings() reads it, when first needed
    commands = (["tokens", "create", "--tenant", "acme", "--scopes", "all"], ["tokens", "list", "--tenant", "acme"])
    for args in (*commands, ["tenants", "list"], ["keys", "rotate"], ["migrate"]):
        reads.clear()
        await migrated.ok(*args)
        assert len(reads) == 1, args
