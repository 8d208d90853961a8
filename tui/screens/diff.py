"""Diff: a trace of one run beside the most similar trace of the other, or any two by hand,
with both traces' perplexity under each scorer of the file."""

from __future__ import annotations

from reachscope.core import browse
from reachscope.core.answer_stats import read_likelihoods
from reachscope.store import StoreError
from reachscope.store.grades import resolve_grader
from reachscope.store.samples import SampleRow, sample_info, sample_texts, samples_of_problem
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, Static

from ..messages import PairLoaded
from ..widgets.trace_diff import TraceDiff
from .base import AppScreen


def _find_row(rows: dict[int, list[SampleRow]], sample_id: int) -> SampleRow:
    for run_rows in rows.values():
        for row in run_rows:
            if row.id == sample_id:
                return row
    raise KeyError(sample_id)


def ppl_line(scorers: list[str], left: dict[str, float], right: dict[str, float]) -> Text:
    """Both traces' perplexity under each scorer: ``PPL base 1.021 | 1.004 · rl ...`` (left |
    right; ``-`` where a trace is not scored)."""
    line = Text("PPL ", style="dim")
    for i, name in enumerate(scorers):
        if i:
            line.append(" · ", style="dim")
        line.append_text(Text.assemble(
            (f"{name} ", "dim"), browse.format_ppl(left.get(name)) or "-", (" | ", "dim"),
            browse.format_ppl(right.get(name)) or "-"))
    line.append("  (left | right)", style="dim")
    return line


class DiffScreen(AppScreen):
    """Side-by-side word diff of two samples of one problem.

    With one sample given, the other side is its most similar sample (token-set Jaccard) in the
    other run of the pair; moving the left side re-pairs. Moving the right side by hand turns
    pairing off (``a`` turns it back on).
    """

    BINDINGS = [
        Binding("escape", "app.back", "Back"),
        Binding("n", "move('left', 1)", "L next", tooltip="Left side: next sample"),
        Binding("p", "move('left', -1)", "L prev", tooltip="Left side: previous sample"),
        Binding("N", "move('right', 1)", "R next", tooltip="Right side: next sample"),
        Binding("P", "move('right', -1)", "R prev", tooltip="Right side: previous sample"),
        Binding("a", "auto", "Auto", tooltip="Pair with the most similar sample again"),
        Binding("s", "swap", "Swap", tooltip="Swap the two sides"),
    ]

    def __init__(self, problem_id: int, left_id: int, right_id: int | None = None) -> None:
        super().__init__()
        self.problem_id = problem_id
        self.left_id = left_id
        self.right_id = right_id
        self.auto = right_id is None
        self.rows: dict[int, list[SampleRow]] = {}
        self.texts: dict[int, dict[int, str]] = {}
        self.left_run: int | None = None
        self.right_run: int | None = None
        #: sample id -> scorer name -> perplexity, and the scorers (read with the rows)
        self.ppl: dict[int, dict[str, float]] = {}
        self.scorers: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("loading…", markup=False, id="diff-head")
        yield TraceDiff(id="diff")
        # Compact and without the palette hint (? lists every key): all fit at 80 columns.
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.load_pair()

    def _row(self, sample_id: int) -> SampleRow:
        return _find_row(self.rows, sample_id)

    @work(thread=True, exclusive=True, group="diff", exit_on_error=False)
    def load_pair(self) -> None:
        """Read the problem's samples (once) and pick the pair. The worker only reads the
        screen's state; what it finds travels in :class:`PairLoaded`, assigned on the UI
        thread."""
        app = self.app
        left_id, right_id, auto = self.left_id, self.right_id, self.auto
        rows, texts = self.rows, self.texts
        left_run, right_run = self.left_run, self.right_run
        ppl, scorers = self.ppl, self.scorers
        if not rows:
            def fetch(db):  # noqa: ANN001, ANN202
                info = sample_info(db, left_id, None)
                if info is None:
                    raise StoreError(f"no sample {left_id}")
                run_ids = {info["run_id"], *app.pair_ids}
                if right_id is not None:
                    other = sample_info(db, right_id, None)
                    run_ids.add(other["run_id"] if other else info["run_id"])
                rows, texts = {}, {}
                for run_id in run_ids:
                    run = next(r for r in app.runs if r.id == run_id)
                    grader = app.graders.get(run_id) or resolve_grader(db, run)
                    rows[run_id] = samples_of_problem(db, run_id, self.problem_id, grader)
                    texts[run_id] = sample_texts(db, run_id, self.problem_id)
                scores = read_likelihoods(db, [r.id for run_rows in rows.values()
                                               for r in run_rows])
                return info["run_id"], rows, texts, scores

            left_run, rows, texts, scores = app.source.query(fetch)
            ppl, scorers = scores.ppl, scores.scored_by()
            others = [r for r in app.pair_ids if r != left_run]
            if right_id is not None:
                right_run = _find_row(rows, right_id).run_id
            else:
                right_run = others[0] if others else left_run
        left = _find_row(rows, left_id)
        candidates = {sid: t for sid, t in texts[right_run].items() if sid != left.id}
        if not candidates:
            raise StoreError("no other sample to compare with")
        left_text = texts[left.run_id][left.id]
        if auto or right_id not in candidates:
            right_id, sim = browse.most_similar(left_text, candidates)
        else:
            sim = browse.similarity(left_text, candidates[right_id])
        right = _find_row(rows, right_id)
        self.post_message(PairLoaded(left, right, left_text, candidates[right.id], sim, auto,
                                     rows=rows, texts=texts, left_run=left_run,
                                     right_run=right_run, ppl=ppl, scorers=scorers))

    @on(PairLoaded)
    def _loaded(self, message: PairLoaded) -> None:
        app = self.app
        left, right = message.left, message.right
        if left.id != self.left_id:
            return  # a pair for a left side the user has since moved away from
        self.rows, self.texts = message.rows, message.texts
        self.left_run, self.right_run = message.left_run, message.right_run
        self.ppl, self.scorers = message.ppl, message.scorers
        self.left_id, self.right_id = left.id, right.id
        chunks = browse.word_diff(message.left_text, message.right_text)

        def title(s: SampleRow) -> Text:
            return Text(f"{app.label_of(s.run_id)} #{s.sample_idx} {s.verdict or 'ungraded'} "
                        f"→ {s.answer if s.answer is not None else '—'}")

        n_right = len(self.rows.get(right.run_id, []))
        how = (f"most similar of {n_right} {app.label_of(right.run_id)} samples" if message.auto
               else "chosen by hand")
        changed = sum(len(c.left) + len(c.right) for c in chunks if c.op != "equal")
        head = Text.assemble(
            ("similarity ", "dim"), (f"{message.similarity:.2f}", "bold"),
            (" (token-set Jaccard) · ", "dim"), how, (f" · {changed} words differ", "dim"))
        if self.scorers:  # some sample of the problem is scored
            head.append("\n")
            head.append_text(ppl_line(self.scorers, self.ppl.get(left.id, {}),
                                      self.ppl.get(right.id, {})))
        self.query_one("#diff-head", Static).update(head)
        self.query_one(TraceDiff).show(chunks, title(left), title(right))

    def action_move(self, side: str, step: int) -> None:
        if self.left_run is None or self.right_run is None:
            return
        run = self.left_run if side == "left" else self.right_run
        current = self.left_id if side == "left" else self.right_id
        ids = [r.id for r in self.rows[run]]
        i = ids.index(current) if current in ids else 0
        new = ids[(i + step) % len(ids)]
        if side == "left":
            self.left_id = new
        else:
            self.right_id, self.auto = new, False
        self.load_pair()

    def action_auto(self) -> None:
        self.auto = True
        self.load_pair()

    def action_swap(self) -> None:
        if self.right_id is None or self.right_run is None:
            return
        self.left_id, self.right_id = self.right_id, self.left_id
        self.left_run, self.right_run = self.right_run, self.left_run
        self.load_pair()
