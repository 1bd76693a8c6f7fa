# `migrate --dry-run` and `migrate` of both services against their configured database, as an
# operator runs them before rolling out a new version: the dry run lists every pending
# migration with its SQL and changes nothing (on SQLite it does not even create the file),
# `migrate` applies them, and the next dry run says the schema is up to date. A schema newer
# than the binary is refused (exit 1) by the dry run and by `serve` alike.
"""Runs on every backend (PERMISO_TEST_BACKEND). mt5-api comes from MT5_API_BIN, else beside
PERMISO_AUTH_BIN in the build tree; its tests skip when it is not there."""

import hashlib
import os
import sqlite3
import subprocess
import sys
import unittest

import harness
from harness import AuthServer, ServiceProcess

HERE = os.path.dirname(os.path.abspath(__file__))
# Appended, not prepended: a module of this directory always wins over one of gateway/.
sys.path.append(os.path.join(HERE, "gateway"))
import gateway_harness  # noqa: E402  (the gateway suite's harness, read-only)
from gateway_harness import Mt5Server  # noqa: E402

RUN_TIMEOUT_S = 60


def file_digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run(service, *args):
    """`<binary> <args>` with the service's environment (not started: nothing else touches its
    database)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ServiceProcess.ENV_PREFIXES)}
    env.update(service.env)
    return subprocess.run([service.binary, *args], env=env, cwd=service.data_dir, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S)


class MigrateFlow:
    """The flow both services share; a subclass makes `self.service` (unstarted)."""

    schema_table = None
    first_statement = None  # a statement of the first migration, as the dry run prints it

    def sqlite_file(self):
        url = self.service.database_url
        return url[len("sqlite://"):] if url.startswith("sqlite://") else None

    def sql(self, statement):
        """Runs one statement on the service's database (Python's sqlite3, or psql); its first
        cell, if any."""
        path = self.sqlite_file()
        if path:
            with sqlite3.connect(path) as db:
                row = db.execute(statement).fetchone()
            db.close()
            return None if row is None else str(row[0])
        r = subprocess.run([f"{harness.PG_BIN}/psql", "-XAtq", self.service.database_url, "-c", statement],
                           capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip() or None

    def assert_ok(self, out):
        self.assertEqual(out.returncode, 0, f"stdout:\n{out.stdout}\nstderr:\n{out.stderr}")

    def test_dry_run_lists_pending_changes_nothing_then_migrate_applies_them(self):
        path = self.sqlite_file()
        preview = run(self.service, "migrate", "--dry-run")
        self.assert_ok(preview)
        self.assertIn("-- version 1: ", preview.stdout)
        self.assertIn(self.first_statement, preview.stdout)
        self.assertIn("dry run: nothing was changed", preview.stdout)
        if path:
            self.assertIn("no database yet: every migration is pending", preview.stdout)
            for suffix in ("", "-wal", "-shm", "-journal"):
                self.assertFalse(os.path.exists(path + suffix), f"the dry run created {path + suffix}")
        else:  # read in a READ ONLY transaction: not even the migration table was created
            self.assertEqual(self.sql(f"SELECT to_regclass('{self.schema_table}') IS NULL"), "t")
        # Nothing was applied: a second dry run still lists the same migrations.
        again = run(self.service, "migrate", "--dry-run")
        self.assert_ok(again)
        self.assertIn("-- version 1: ", again.stdout)

        applied = run(self.service, "migrate")
        self.assert_ok(applied)
        self.assertIn("applied version 1: ", applied.stdout)
        self.assertIn("schema is now at version", applied.stdout)
        if path:
            self.assertTrue(os.path.exists(path))

        before = file_digest(path) if path else None
        after = run(self.service, "migrate", "--dry-run")
        self.assert_ok(after)
        if path:  # opened read-only: not a byte of the database changed
            self.assertEqual(file_digest(path), before)
        self.assertRegex(after.stdout, r"schema is up to date \(version \d+\)")
        self.assertNotIn("-- version", after.stdout)
        # Applying again is a no-op too.
        self.assertRegex(run(self.service, "migrate").stdout, r"schema is up to date \(version \d+\)")

    def test_a_newer_schema_is_refused_by_the_dry_run_and_by_serve(self):
        self.assert_ok(run(self.service, "migrate"))
        self.sql(f"INSERT INTO {self.schema_table} (version, name, applied_at) VALUES (999, 'from a newer release', 0)")
        for args in (("migrate", "--dry-run"), ("migrate",), ("serve",)):
            out = run(self.service, *args)
            self.assertEqual(out.returncode, 1, f"{args}: {out.stdout}\n{out.stderr}")
            self.assertIn("version 999", out.stdout + out.stderr, args)


class AuthMigrateTest(MigrateFlow, unittest.TestCase):
    schema_table = "schema_migrations"
    first_statement = "CREATE TABLE users ("

    def setUp(self):
        self.service = AuthServer()
        self.addCleanup(self.service.cleanup)


class Mt5MigrateTest(MigrateFlow, unittest.TestCase):
    schema_table = "mt5_schema_migrations"
    first_statement = "CREATE TABLE mt5_accounts ("

    def setUp(self):
        gateway_harness.mt5_binary_or_skip(self)
        auth = AuthServer()  # never started: mt5-api's configuration only names it
        self.addCleanup(auth.cleanup)
        self.service = Mt5Server(auth, service_secret="s" * 32)
        self.addCleanup(self.service.cleanup)


if __name__ == "__main__":
    unittest.main()
