"""Snapshots of the main screens at 80x24 (SSH) and 120x40 (a large terminal).

Regenerate after an intended change with ``pytest tests/tui/test_snapshots.py --snapshot-update``
and look at the SVGs in tests/tui/__snapshots__/ before committing them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from reachscope.tui.app import create_app
from textual.pilot import Pilot

from .helpers import press_keys, settle

# `keys` ends in settle_screen, which waits for the DataTables' column widths and the screen's
# layout to be final (a snapshot used to catch labels cut to "bas" or "Qwen2" now and then).


SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


def app_for(db_path: Path):  # noqa: ANN201
    return create_app(db_path, poll_interval=0)


#: Press keys, then wait until the frame is final (see settle_screen).
keys = press_keys


@pytest.mark.parametrize("size", SIZES)
def test_compare(snap_compare, db_path: Path, size: tuple[int, int]) -> None:
    """Compare screen: run pickers (base vs rl), pass@k curves on a log2 k axis (1, 2, 4, 8),
    the summary table, coverage (9 / 1 / 1 / 1 at all samples and at k = 1) and the crossover.
    At 80x24 the tables are below the plot (scroll for the bootstrap table). The legend is the
    title line (``━ base (cyan)   ━ rl (magenta)``), above the plot area, not over the curves;
    the y axis is fitted to the curves (``y fitted (0-1: key y)`` under the k axis) and each k
    has a ● on each curve. The side pane keeps a blank column on its left for its focus bar. The
    compact footer shows every key at 80 columns, from ``? Help`` to ``m By field``, ``e
    Evidence``, ``q Quit`` and ``L Live`` (k+ and k− as one ``+- k``)."""
    assert snap_compare(app_for(db_path), terminal_size=size, run_before=keys)


# The difference view after `d` (the Δ curve with its bootstrap band) is checked by
# tests/tui/test_flows.py rather than by a snapshot: its layout did not reproduce reliably
# (about 1 run in 8 caught the summary table before its final column widths).


def test_problems_only_base(snap_compare, db_path: Path) -> None:
    """Problems reached from the coverage cell "only base" at the full budget (Enter on the
    cursor's starting cell): one row, problem #0 with base 1/8 and rl 0/8, Δ in red; the compact
    footer, ``? Help`` first, shows every key at 80 columns (``e Answers`` through ``L Live``)."""
    async def go(pilot: Pilot) -> None:
        await settle(pilot)
        pilot.app.screen.query_one("#coverage").focus()
        await keys(pilot, "enter")

    assert snap_compare(app_for(db_path), terminal_size=(80, 24), run_before=go)


def test_problems_sorted_by_delta(snap_compare, db_path: Path) -> None:
    """Problems at 120x40, sorted by Δ descending (keys s s s r): #3 (+0.75) first; columns
    for c/n and pass@1 of both runs, level, subject (this fixture has both) and the problem
    text; the compact footer with ``? Help`` first and ``e Answers``."""
    assert snap_compare(app_for(db_path), terminal_size=(120, 40),
                        run_before=lambda pilot: keys(pilot, "p", "s", "s", "s", "r"))


def test_problems_answers_view(snap_compare, db_path: Path) -> None:
    """Problems at 80x24 in the answers view (key e): per run c/n, then H (answer entropy,
    nats), ans (distinct answers) and cut (share truncated); #0 reads base 1/8 0.96 3 12% and
    rl 0/8 0.68 2 12%, #5 (8/8 both) 0.00 1 0%; the problem text still shows on the right, the
    legend is in the status line, and the footer has ``e Answers``."""
    assert snap_compare(app_for(db_path), terminal_size=(80, 24),
                        run_before=lambda pilot: keys(pilot, "p", "e"))


@pytest.mark.parametrize("size", SIZES)
def test_problem(snap_compare, db_path: Path, size: tuple[int, int]) -> None:
    """Problem #0: header with level, subject and the reference answer (10) highlighted, then a
    line per run with c/n, answer entropy H and H / ln 7 (base: H 0.96 (0.49), 3 answers, mode
    57% ✗, maj@8 0.00; no token entropy: the fixture has no scores); the statement; answer
    clusters per run (base: 11 ×4, 7 ×2, no answer, 10 ✓) and the samples table with verdicts
    coloured (no PPL columns without scores); ``? Help`` first in the footer, which ends in
    ``L Live`` at 80 columns (``m Mark``, ``x All``, ``o PPL sort``)."""
    assert snap_compare(app_for(db_path), terminal_size=size,
                        run_before=lambda pilot: keys(pilot, "p", "enter"))


@pytest.mark.parametrize("size", SIZES)
def test_trace(snap_compare, db_path: Path, size: tuple[int, int]) -> None:
    """Trace of base sample 0 of problem #0: header (verdict correct, length, tokens, finish),
    the extracted answer 10 in a green highlight, inline maths in cyan with LaTeX turned into
    Unicode (no backslashes; ``r`` shows the raw text), wrapped at the width with nothing cut,
    and the final boxed answer as ``[10]`` in green reverse with a ◀ final answer marker. The
    compact footer shows every key at 80 columns (``] Next``, ``/ Find``, ``n Match``, ``r Raw``,
    ``a Label``, ``d Diff``, ``? Help``). The focused trace has a thick bar on its left edge."""
    assert snap_compare(app_for(db_path), terminal_size=size,
                        run_before=lambda pilot: keys(pilot, "p", "enter", "enter"))


def test_annotate_dialog(snap_compare, db_path: Path) -> None:
    """The annotate dialog over a trace at 80x24: label choices with the first selected, a note
    field, Save and Cancel; the trace below it renders LaTeX as Unicode."""
    assert snap_compare(app_for(db_path), terminal_size=(80, 24),
                        run_before=lambda pilot: keys(pilot, "p", "enter", "enter", "a"))


@pytest.mark.parametrize("size", SIZES)
def test_diff(snap_compare, db_path: Path, size: tuple[int, int]) -> None:
    """Diff of base sample 0 of problem #0 with its most similar rl sample: similarity in the
    head line, each pane titled with run, sample index, verdict and answer; words that differ
    are highlighted (red on the left, green on the right). The compact footer shows every key
    at 80 columns (``n L next`` ... ``s Swap``, ``? Help``)."""
    assert snap_compare(app_for(db_path), terminal_size=size,
                        run_before=lambda pilot: keys(pilot, "p", "enter", "d"))


def test_help_over_trace(snap_compare, db_path: Path) -> None:
    """``?`` on a trace at 80x24: a bordered list titled ``keys: Trace`` with every key of the
    screen (hidden ones too: ``[`` previous sample, ``N`` previous match), each with what it
    does in full words, then the app's keys (``q`` Quit, ``L`` Live) and the scroll keys; nothing
    cut at the right edge."""
    assert snap_compare(app_for(db_path), terminal_size=(80, 24),
                        run_before=lambda pilot: keys(pilot, "p", "enter", "enter",
                                                      "question_mark"))


def test_evidence(snap_compare, db_path: Path) -> None:
    """Evidence (``e`` on Compare) at 80x24: ``budget parity: same n, ...`` in grey, then ``rl vs
    base on 12 problems, support at K=8: P 9  E 1  S 1  O 1``, the detection floor and the dSE
    line, the SRR/NDR/SDS/NSCR table with intervals, and the top of the 12 x 12 transition
    matrix (``·`` for empty cells) with the cursor on its first off-diagonal cell. The footer
    shows ``l Likelihood``, ``c Curves``, ``t Trajectory`` dimmed (two runs), ``esc Back``."""
    assert snap_compare(app_for(db_path), terminal_size=(80, 24),
                        run_before=lambda pilot: keys(pilot, "e"))


def test_trajectory(snap_compare, tmp_path: Path) -> None:
    """Trajectory (``t`` on Compare) of three runs at 80x24: the plot of pass@1 (cyan) and pass@8
    (magenta) over base, rl-step100, rl-step400 (step order, not creation order), then the
    table (step, pass@1, pass@8, dSE, both / only base / only run, H) and the notes."""
    from .evidence_db import build

    path = tmp_path / "steps.db"
    build(path)
    assert snap_compare(app_for(path), terminal_size=(80, 24),
                        run_before=lambda pilot: keys(pilot, "t"))


def test_review(snap_compare, tmp_path: Path) -> None:
    """Review screen at 80x24 on a copy of the demo database with a queue of the lab runs'
    rare correct samples (``reachscope review --runs base rl --max-accuracy 0.3``), reviewer
    ada, after ``v`` and ``f``: the head line ``review 2 / 497  ada  item 3 · problem 36 ·
    blind  ✓ flawed: item 2`` (no run shown; the last label written), ``reference: 68  answer:
    68`` and ``What is 17*4?``, then the trace ``17*4=40+28=68`` with ``[68] ◀ final answer``
    in green and the focus bar on its left, and the compact footer with one key per label
    (``v Valid`` ... ``s Skip``), ``u Undo``, ``n Note``, ``] Next`` and ``K Agree``."""
    from .helpers import demo_copy
    from .test_review import build_queue

    path = demo_copy(tmp_path)
    build_queue(path)
    app = create_app(path, poll_interval=0, reviewer="ada")
    assert snap_compare(app, terminal_size=(80, 24),
                        run_before=lambda pilot: keys(pilot, "R", "v", "f"))
