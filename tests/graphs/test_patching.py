"""The pure-Python unified-diff applier: tolerant of model diffs, strict about matches."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.graphs.patching import PatchError, apply_unified_diff, parse_unified_diff

SOURCE = "def f(x):\n    y = x + 1\n    return y\n\n\ndef g():\n    return 2\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text(SOURCE)
    (tmp_path / "other.py").write_text("A = 1\n")
    return tmp_path


def test_wrong_line_numbers_and_counts_are_only_hints(project: Path) -> None:
    diff = (
        "diff --git a/pkg/mod.py b/pkg/mod.py\n--- a/pkg/mod.py\n+++ b/pkg/mod.py\n"
        "@@ -40,9 +40,1 @@\n def g():\n-    return 2\n+    return 3\n"
    )
    assert apply_unified_diff(project, diff) == ["pkg/mod.py"]
    assert (project / "pkg" / "mod.py").read_text() == SOURCE.replace("return 2", "return 3")


def test_blank_context_line_without_its_space(project: Path) -> None:
    diff = (
        "--- a/pkg/mod.py\n+++ b/pkg/mod.py\n@@ -3,4 +3,4 @@\n"
        "     return y\n\n\n-def g():\n+def h():\n"
    )
    apply_unified_diff(project, diff)
    assert "def h():" in (project / "pkg" / "mod.py").read_text()


def test_mismatch_names_file_hunk_and_line_and_writes_nothing(project: Path) -> None:
    diff = (
        "--- a/other.py\n+++ b/other.py\n@@ -1 +1 @@\n-A = 1\n+A = 2\n"
        "--- a/pkg/mod.py\n+++ b/pkg/mod.py\n@@ -1,3 +1,3 @@\n"
        " def f(x):\n-    y = x + 2\n+    y = x\n"
    )
    with pytest.raises(PatchError) as info:
        apply_unified_diff(project, diff)
    message = str(info.value)
    assert "pkg/mod.py, hunk 1" in message
    assert "Line 2 should be '    y = x + 2' but is '    y = x + 1'" in message
    assert (project / "other.py").read_text() == "A = 1\n"  # first file untouched too


@pytest.mark.parametrize("path", ["../escape.py", "/etc/passwd", "a/../../x.py"])
def test_paths_must_stay_inside_the_project(project: Path, path: str) -> None:
    diff = f"--- /dev/null\n+++ {path}\n@@ -0,0 +1 @@\n+x = 1\n"
    with pytest.raises(PatchError, match=r"inside the project|outside"):
        apply_unified_diff(project, diff)


def test_symlink_out_of_the_project_is_refused(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.py").write_text("S = 1\n")
    (project / "link").symlink_to(outside)
    diff = "--- a/link/secret.py\n+++ b/link/secret.py\n@@ -1 +1 @@\n-S = 1\n+S = 2\n"
    with pytest.raises(PatchError, match="outside the project"):
        apply_unified_diff(project, diff)
    assert (outside / "secret.py").read_text() == "S = 1\n"


def test_create_and_delete_files(project: Path) -> None:
    diff = (
        "--- /dev/null\n+++ b/pkg/new.py\n@@ -0,0 +1,2 @@\n+import os\n+X = 1\n"
        "--- a/other.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-A = 1\n"
    )
    assert sorted(apply_unified_diff(project, diff)) == ["other.py", "pkg/new.py"]
    assert (project / "pkg" / "new.py").read_text() == "import os\nX = 1\n"
    assert not (project / "other.py").exists()


def test_crlf_files_keep_their_line_endings(project: Path) -> None:
    (project / "win.py").write_bytes(b"a = 1\r\nb = 2\r\n")
    apply_unified_diff(
        project, "--- a/win.py\n+++ b/win.py\n@@ -1,2 +1,2 @@\n a = 1\n-b = 2\n+b = 3\n"
    )
    assert (project / "win.py").read_bytes() == b"a = 1\r\nb = 3\r\n"


@pytest.mark.parametrize(
    ("diff", "message"),
    [
        ("just prose, no diff", "no file header"),
        ("@@ -1 +1 @@\n-a\n+b\n", "before any"),
        ("--- a/x.py\n+++ b/x.py\n", "no hunks"),
        ("--- /dev/null\n+++ /dev/null\n@@ -0,0 +1 @@\n+a\n", "both sides"),
    ],
)
def test_malformed_diffs_are_explained(diff: str, message: str) -> None:
    with pytest.raises(PatchError, match=message):
        parse_unified_diff(diff)


def test_missing_file_and_existing_new_file(project: Path) -> None:
    with pytest.raises(PatchError, match="no such file"):
        apply_unified_diff(project, "--- a/nope.py\n+++ b/nope.py\n@@ -1 +1 @@\n-a\n+b\n")
    with pytest.raises(PatchError, match="already exists"):
        apply_unified_diff(project, "--- /dev/null\n+++ b/other.py\n@@ -0,0 +1 @@\n+a\n")
