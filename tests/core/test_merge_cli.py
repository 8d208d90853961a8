"""`reachscope merge` through the real CLI: the report of the merged file is the report of one
file sampled with everything, a second merge changes nothing, and refusals are one line that
leave the target as it was."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from click.testing import CliRunner
from reachscope.core.cli import cli

from tests.store.test_merge import fill


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def report(db: Path) -> object:
    code, out, err = invoke("report", str(db), "--format", "json", "--bootstrap", "0",
                            "--no-evidence")
    assert code == 0, err
    data = json.loads(out)
    return data


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_merge_reports_like_one_file_and_is_idempotent(tmp_path: Path) -> None:
    a, b, one, out = (tmp_path / f"{n}.db" for n in ("a", "b", "one", "all"))
    fill(a, range(0, 4), reviewer="ann")
    fill(b, range(4, 8), seed=1, reviewer="bob")
    fill(one, range(0, 8))
    code, stdout, err = invoke("merge", str(a), str(b), "--into", str(out))
    assert code == 0, err
    assert "new run d/base: 12 samples added, 0 already there" in stdout
    assert "run d/base: 12 samples added" in stdout.splitlines()[-1]
    assert report(out) == report(one)
    before = sha(out)
    code, stdout, _ = invoke("merge", str(a), str(b), "--into", str(out))
    assert code == 0
    assert stdout.splitlines() == [f"{a}: nothing new", f"{b}: nothing new"]
    assert sha(out) == before


def test_conflicts_are_one_line_and_leave_the_target_unchanged(tmp_path: Path) -> None:
    a, hot, other, out = (tmp_path / f"{n}.db" for n in ("a", "hot", "other", "all"))
    fill(a, range(4))
    fill(hot, range(4, 8), params={"temperature": 1.0})
    fill(other, range(2, 6), text_of=lambda label, p, j: f"other {p} {j}")
    assert invoke("merge", str(a), "--into", str(out))[0] == 0
    before = sha(out)
    for source, why in ((hot, "params.temperature = 1.0 in"), (other, "sample 2 has another text")):
        code, _, err = invoke("merge", str(source), "--into", str(out))
        assert code == 1
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: refusing to merge"), err
        assert str(source) in lines[0] and str(out) in lines[0] and "d/base" in lines[0]
        assert why in lines[0]
        assert sha(out) == before


def test_merging_a_file_into_itself_is_refused(tmp_path: Path) -> None:
    a = tmp_path / "a.db"
    fill(a, range(2))
    code, _, err = invoke("merge", str(a), "--into", str(a))
    assert code == 1 and "into itself" in err
