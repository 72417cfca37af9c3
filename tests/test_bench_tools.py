"""`make bench` and `make faults` on a fresh machine: what they run beside the product is found,
installed, or asked for by its Debian package, before anything else happens (bench/tools.py)."""

import sys

import pytest

from bench import BENCHMARKS, tools
from tests.integration.servers import free_port

ABSENT = tools.Tool(
    "crm-absent-tool", ("crm-absent-tool", "/nonexistent/crm-absent-tool"), "crm-absent"
)


def test_each_benchmark_that_runs_a_program_names_it():
    assert set(tools.BENCH_NEEDS) <= set(BENCHMARKS)
    assert tools.BENCH_NEEDS["tracking_open"] == (tools.WRK,)
    assert tools.BENCH_NEEDS["imap_sync"] == (tools.DOVECOT,)
    assert (tools.WRK.package, tools.DOVECOT.package) == ("wrk", "dovecot-imapd")


def test_a_tool_that_is_there_is_found():
    here = tools.Tool("python", ("crm-absent-tool", sys.executable), "python3")
    assert tools.find(here) == sys.executable
    tools.ensure([here], who="make bench", install=False)  # returns: nothing to do


def test_a_missing_tool_that_cannot_be_installed_stops_the_run_naming_its_package():
    with pytest.raises(SystemExit) as stopped:
        tools.ensure([ABSENT, ABSENT], who="make bench", install=False)
    assert str(stopped.value) == (
        "make bench needs crm-absent-tool, missing here: install the Debian package(s) with "
        "`sudo apt-get install crm-absent`, then run it again."
    )


def test_a_server_that_does_not_answer_stops_the_run_naming_its_url():
    dead_db = f"postgres://postgres@127.0.0.1:{free_port()}/crm_mail_bench"
    with pytest.raises(SystemExit) as stopped:
        tools.ensure_servers(dead_db, "redis://127.0.0.1:1/0", who="make faults")
    assert str(stopped.value).startswith(f"make faults needs PostgreSQL at {dead_db} ")
