"""The `accessible-lib` command: import books, serve the library, show the settings.

Import output is for two readers: a person at a terminal (a progress bar on stderr, then a summary and
the reason for each rejected file) and a script (`--json`: one object per file on stdout, nothing else).
The exit status is 1 when any file was rejected, so `make` and cron notice.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from tqdm import tqdm

from .. import db as database
from .. import i18n, search_index
from ..i18n import gettext, ngettext
from ..importer import (
    DUPLICATE,
    IMPORTED,
    REBUILT,
    REJECTED,
    RIGHTS,
    ImportResult,
    collect_files,
    import_file,
)
from ..settings import PREFIX, SETTINGS, Settings, display_value


@click.group()
def main() -> None:
    """An accessible digital library."""
    # Messages follow the terminal's locale, as other command-line tools do: LANG=zh_CN.UTF-8 gives Chinese.
    locale = i18n.terminal_locale(dict(os.environ))
    i18n.activate(i18n.book_catalogue(locale)[1] if locale != "en" else i18n.current())


@main.command("import")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file on stdout.")
@click.option(
    "--rights",
    type=click.Choice(RIGHTS),
    default=None,
    help="Rights status of the imported books (default: the default_rights setting); eligible-only "
    "books are read only by eligible readers, and restricted is the old name of eligible-only.",
)
@click.option("--skip-duplicates", is_flag=True, help="Say nothing about files already imported.")
def import_command(paths: tuple[Path, ...], as_json: bool, rights: str | None, skip_duplicates: bool) -> None:
    """Import EPUB and plain-text files, or every such file under the given folders.

    With no path, the content folder (the content_dir setting) is imported: `make run` does that.
    """
    settings = Settings.from_env()
    paths = paths or (settings.content_dir,)
    catalogue_db = database.open_database(settings.database_path)
    files = list(collect_files(paths))
    counts = {IMPORTED: 0, DUPLICATE: 0, REBUILT: 0, REJECTED: 0}
    rejected = []
    progress = tqdm(files, file=sys.stderr, unit="file", disable=as_json or not files, leave=False)
    try:
        for path in progress:
            progress.set_postfix_str(path.name, refresh=False)
            if not path.exists():
                result = ImportResult(str(path), REJECTED, reason=gettext("There is no file at this path."))
            else:
                result = import_file(catalogue_db, settings, path, rights=rights)
            counts[result.status] += 1
            if as_json:
                if not (skip_duplicates and result.status == DUPLICATE):
                    click.echo(json.dumps(result.as_dict(), ensure_ascii=False))
            elif result.status == REJECTED:
                rejected.append(result)
        changed = counts[IMPORTED] + counts[REBUILT]
        search_index.merge_after(catalogue_db, changed, settings.index_merge_records)
    finally:
        progress.close()
        catalogue_db.close()
    if not as_json:
        parts = [ngettext("%(num)d imported", "%(num)d imported", counts[IMPORTED])]
        if counts[REBUILT]:
            parts.append(ngettext("%(num)d rebuilt", "%(num)d rebuilt", counts[REBUILT]))
        if not skip_duplicates:
            parts.append(ngettext("%(num)d duplicate", "%(num)d duplicates", counts[DUPLICATE]))
        parts.append(ngettext("%(num)d rejected", "%(num)d rejected", counts[REJECTED]))
        click.echo(", ".join(parts))
        for result in rejected:
            click.echo(f"{result.path}: {result.reason}")
    if counts[REJECTED]:
        sys.exit(1)


@main.command()
@click.option("--host", default=None, help="Address to listen on (default: the host setting).")
@click.option("--port", default=None, type=int, help="Port to listen on (default: the port setting).")
@click.option(
    "--processes", default=None, type=int, help="Web processes (default: the web_processes setting)."
)
def serve(host: str | None, port: int | None, processes: int | None) -> None:
    """Serve the library over HTTP, with one web process per core unless told otherwise."""
    import uvicorn

    from ..app import create_app
    from ..auth import secret_key_for
    from ..db import open_database
    from ..logs import configure_logging
    from ..metrics import share_between_processes

    settings = Settings.from_env()
    configure_logging(settings)
    count = web_process_count(processes if processes is not None else settings.web_processes)
    options = {
        "host": host or settings.host,
        "port": port or settings.port,
        # uvicorn's own proxy handling (on by default, trusting 127.0.0.1) is off: the app trusts exactly
        # the proxies in ACCESSIBLE_LIB_TRUSTED_PROXIES, and sees their forwarded scheme and client address.
        "proxy_headers": False,
        # Logging as configured above (ACCESSIBLE_LIB_LOG_FORMAT); the app writes the access log itself,
        # with the route template in place of the path, whose query string may hold a mailed token.
        "log_config": None,
        "access_log": False,
    }
    if count == 1:
        uvicorn.run(create_app(settings), **options)
        return
    # Several processes share the catalogue (SQLite in WAL mode: readers never wait for the writer) and the
    # signing key. Both are made here, once, before the processes start: two processes migrating one
    # database at the same moment would both try to create the same tables. Each process then builds its
    # app from the same environment (the factory, which configures its own logging: a spawned process
    # inherits none); uvicorn's supervisor replaces one that dies.
    open_database(settings.database_path).close()
    secret_key_for(settings)
    share_between_processes(settings.data_dir / "metrics")
    from ..web.shared_pages import forget_all

    forget_all(settings.data_dir)  # pages of an earlier run may be of other code or settings
    uvicorn.run("accessible_lib.app:create_served_app", factory=True, workers=count, **options)


def web_process_count(setting: int) -> int:
    return setting if setting > 0 else os.cpu_count() or 1


@main.command("settings")
def show_settings() -> None:
    """Every setting, its current value and what it is for (secrets and passwords in URLs masked)."""
    current = Settings.from_env()
    for setting in SETTINGS:
        name = PREFIX + setting.name.upper()
        click.echo(f"{name}={display_value(setting, getattr(current, setting.name))}")
        click.echo(f"    {setting.help}")


# Each of these registers its commands on `main`: convert and jobs; worker and editions; create-staff;
# rebuild-chapters; fill-marks; readers; rights; downloads; import-calibre; backup and restore; harvest;
# stats; pronounce.
from . import (  # noqa: E402,F401
    backup,
    calibre,
    downloads,
    editions,
    fill_marks,
    harvest,
    jobs,
    pronounce,
    readers,
    rebuild,
    staff,
)
from . import rights as rights_commands  # noqa: E402,F401
from . import stats as stats_commands  # noqa: E402,F401
