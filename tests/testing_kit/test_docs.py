"""docs/TESTING.md: its examples are the files in examples/testing, and those run as written."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.observability.conftest import REPO, assert_doc_quotes_examples

DOC = REPO / "docs" / "TESTING.md"
EXAMPLES = (
    "examples/testing/test_quickstart.py",
    "examples/testing/test_django_signup.py",
    "examples/testing/test_flask_app.py",
)


def test_the_page_quotes_the_example_tests_verbatim() -> None:
    assert_doc_quotes_examples(DOC, *EXAMPLES)


def test_the_readme_shows_the_fifteen_line_file_as_it_is() -> None:
    quickstart = (REPO / EXAMPLES[0]).read_text().strip()
    assert len([line for line in quickstart.splitlines() if line.strip()]) <= 15
    assert quickstart in (REPO / "README.md").read_text()


def test_the_example_tests_pass_in_a_pytest_of_their_own() -> None:
    # As a user runs them: a fresh pytest, the plugin loaded from its entry point, no
    # broker, no SendX settings in the environment (the autouse fixture removed them).
    litter = REPO / ".sendx"
    existed = litter.exists()
    env = {name: value for name, value in os.environ.items() if not name.startswith(("SENDX_", "CELERY_"))}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *EXAMPLES],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "10 passed" in result.stdout, result.stdout
    assert existed or not litter.exists()  # the recorder never made the embedded broker's folder
