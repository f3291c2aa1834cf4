"""PostgreSQL through asyncpg: one pool per process, numbered migrations, tenant-scoped transactions."""

from serve_app.db.migrate import Migration, applied, migrations, upgrade
from serve_app.db.pool import Database, DatabaseUnavailableError

__all__ = ["Database", "DatabaseUnavailableError", "Migration", "applied", "migrations", "upgrade"]
