"""A tiny real alembic project for tests: revisions that each create a table, in a graph the
test chooses (a line, or two branches), migrated on a real PostgreSQL through psycopg."""

from __future__ import annotations

from pathlib import Path
from typing import Any

_ENV_PY = """
from alembic import context
from sqlalchemy import create_engine

url = context.config.get_main_option("sqlalchemy.url")
engine = create_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
"""

_REVISION = """
revision = "{rev}"
down_revision = {down}
branch_labels = None
depends_on = None


def upgrade():
    from alembic import op

    op.execute("create table t_{rev} (id int)")


def downgrade():
    from alembic import op

    op.execute("drop table t_{rev}")
"""


def alembic_project(root: Path, database_url: str, revisions: dict[str, str | None]) -> Path:
    """``root/alembic.ini`` over ``root/migrations``, one script per ``{revision: down}``
    (None: a base). Returns the ini's path."""
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    (root / "migrations" / "env.py").write_text(_ENV_PY, encoding="utf-8")
    for rev, down in revisions.items():
        text = _REVISION.format(rev=rev, down=repr(down))
        (versions / f"{rev}.py").write_text(text, encoding="utf-8")
    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    ini = root / "alembic.ini"
    ini.write_text(
        f"[alembic]\nscript_location = migrations\nsqlalchemy.url = {url}\n", encoding="utf-8"
    )
    return ini


def alembic_config(ini: Path) -> Any:
    """An alembic Config whose script location is absolute (commands run from anywhere)."""
    from alembic.config import Config

    config = Config(str(ini))
    config.set_main_option("script_location", str(ini.parent / "migrations"))
    return config
