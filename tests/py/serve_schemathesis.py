"""Runs schemathesis against a running `tickinfer serve`, using the server's own
/openapi.json.  Called by tests/serve/test_serve_schemathesis.c.

    serve_schemathesis.py --url http://127.0.0.1:PORT --token TOKEN

Checks every schemathesis check except positive_data_acceptance: the schema cannot say
that x must be rectangular with 12 features, so schema-valid bodies are legitimately
rejected with 400.  Fixed seed, 10 examples per operation.  Exit 77 when schemathesis
is not installed (skip).
"""
import argparse
import os
import shutil
import sys
import tempfile

try:
    from schemathesis.cli import schemathesis
except ImportError as e:  # pragma: no cover
    print(f"skip: {e}")
    sys.exit(77)

ap = argparse.ArgumentParser()
ap.add_argument("--url", required=True)
ap.add_argument("--token", required=True)
a = ap.parse_args()
sys.argv = ["schemathesis", "run", a.url + "/openapi.json", "--max-examples", "10", "--seed", "1",
            "-H", f"Authorization: Bearer {a.token}", "--exclude-checks", "positive_data_acceptance",
            "--no-color"]
# schemathesis keeps a cache folder in the working directory: run in a temporary one.
work = tempfile.mkdtemp(prefix="ti_schemathesis_")
os.chdir(work)
try:
    schemathesis()
finally:
    os.chdir("/")
    shutil.rmtree(work, ignore_errors=True)
