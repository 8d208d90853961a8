"""Problem: the statement, each run's solution set grouped by answer, and the samples."""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

from reachscope.core import browse
from reachscope.store import annotations, audit
from reachscope.store.grades import answer_groups, resolve_grader
from reachscope.store.problems import problem_lines, problems_of
from reachscope.store.samples import SampleRow, samples_of_problem
from rich.cells import cell_len
from rich.console import JustifyMethod
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Header, Markdown, Static

from ..messages import ProblemLoaded, RunsChanged
from ..widgets.cells import Cell, fit_columns, right
from ..widgets.footer import AppFooter
from ..widgets.paged_table import PagedTable, RowSpec
from .base import AppScreen

VERDICT_STYLE = {"correct": "green", "incorrect": "red", "no_answer": "yellow", None: "dim"}
NONE = "\x01"  # row key part for samples without an extracted answer
MARK = {"correct": "✓", "incorrect": "✗", "mixed": "±"}
LABELLED = " ✎"  # after the run label of a sample that carries a label
DISAGREED = " ≠"  # after the run label of a sample its graders disagree on


SAMPLE_COLUMNS = [(name, None) for name in
                  ("run", "#", "verdict", "answer", "chars", "tokens", "finish")]
#: Headers for a narrow pane, where the column's values are all narrower than the header.
SHORT_HEADERS = {"answer": "ans", "tokens": "tok"}
#: Columns of the samples table that give up width in a narrow pane (80 columns and a run label
#: of 8 or more), in this order and down to this width, their cells then ending in "…": the
#: answer (the answers pane and the trace show it whole), the run label, and the finish reason,
#: never below a whole ``finish``/``length``.
SAMPLE_SHRINK = [(3, 5), (0, 10), (6, 6)]
#: The answers pane's columns (run, answer, n, verdict mark) that give up width, likewise.
ANSWER_SHRINK = [(1, 4), (0, 6)]


def _one_line(text: str, justify: JustifyMethod = "left", style: str = "") -> Text:
    """A table cell that ends in "…" where its column is too narrow for it (never wraps)."""
    return Text(text, style=style, justify=justify, no_wrap=True, overflow="ellipsis")


def verdict_text(verdict: str | None) -> Text:
    return Text(verdict or "ungraded", style=VERDICT_STYLE.get(verdict, "yellow"))


def sample_texts(s: SampleRow) -> tuple[str, str, str, str, str, str]:
    """The texts of a sample's row after its run label."""
    return (str(s.sample_idx), s.verdict or "ungraded", s.answer if s.answer is not None else "—",
            f"{s.length:,}", "" if s.n_tokens is None else str(s.n_tokens),
            s.finish_reason or "")


def sample_cells(s: SampleRow) -> tuple[Cell, ...]:
    """The cells of a sample's row after its run label."""
    idx, verdict, answer, length, tokens, finish = sample_texts(s)
    return (right(idx), Cell(verdict, VERDICT_STYLE.get(s.verdict, "yellow")), Cell(answer),
            right(length), right(tokens), Cell(finish))


class SampleRows(Sequence[RowSpec]):
    """The samples table's rows, each built only when the table adds it.

    A problem has thousands of samples and the table adds a hundred rows at a time: building
    every row up front (seven cell objects each) cost time, and the many long-lived objects
    made the garbage collector's full passes, each near 100 ms, come every other problem.
    """

    def __init__(self, samples: list[SampleRow], labels: dict[int, str],
                 marked: int | None, labelled: frozenset[int] = frozenset(),
                 disagreed: frozenset[int] = frozenset()) -> None:
        self.samples, self.labels, self.marked = samples, labels, marked
        self.labelled, self.disagreed = labelled, disagreed

    def __len__(self) -> int:
        return len(self.samples)

    @overload
    def __getitem__(self, index: int) -> RowSpec: ...
    @overload
    def __getitem__(self, index: slice) -> list[RowSpec]: ...
    def __getitem__(self, index: int | slice) -> RowSpec | list[RowSpec]:
        if isinstance(index, slice):
            return [self._row(s) for s in self.samples[index]]
        return self._row(self.samples[index])

    def _label(self, s: SampleRow) -> str:
        label = self.labels.get(s.run_id, str(s.run_id))
        if s.id in self.disagreed:
            label += DISAGREED
        if s.id in self.labelled:
            label += LABELLED
        return label + " *" if s.id == self.marked else label

    def _row(self, s: SampleRow) -> RowSpec:
        return (Cell(self._label(s)), *sample_cells(s)), None

    def widths(self, labels: Sequence[str] | None = None) -> list[int]:
        """Each column's width (its widest text or its label), without building the cells."""
        widths = [cell_len(label) for label in
                  (labels if labels is not None else [label for label, _ in SAMPLE_COLUMNS])]
        for s in self.samples:
            for i, text in enumerate((self._label(s), *sample_texts(s))):
                n = cell_len(text)
                if n > widths[i]:
                    widths[i] = n
        return widths


class ProblemScreen(AppScreen):
    """One problem across the compared runs."""

    BINDINGS = [
        Binding("escape", "app.back", "Back"),
        Binding("d", "diff", "Diff"),
        Binding("m", "mark", "Mark for diff"),
        Binding("x", "clear_filter", "All samples"),
        Binding("exclamation_mark", "disagreements", "Disagree", key_display="!",
                tooltip="Only samples on which the run's graders disagree"),
        Binding("tab", "app.focus_next", "Next pane", show=False),
    ]

    def __init__(self, problem_id: int) -> None:
        super().__init__()
        self.problem_id = problem_id
        self.samples: list[SampleRow] = []
        self.shown: list[SampleRow] = []
        #: Ids of the samples that carry a label (marked in the list).
        self.labelled: frozenset[int] = frozenset()
        #: Ids of the samples whose graders disagree on correctness, and whether only they show.
        self.disagreed: frozenset[int] = frozenset()
        self.only_disagreements = False
        self.graders: dict[int, str] = {}
        self.answer_filter: tuple[int, str | None] | None = None
        self.marked: int | None = None
        #: The answers pane's rows; the widest value of each column of the samples table; the
        #: headers and widths each table's columns were given (see :meth:`_refit`).
        self._answer_rows: list[tuple[tuple[str, str, str, Text], str]] = []
        self._sample_values: list[int] = []
        self._layouts: dict[str, tuple[list[str], list[int]]] = {}
        self._generation = -1

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="problem-head")
        with VerticalScroll(id="statement-box"):
            yield Markdown("", id="statement")
        with Horizontal(id="problem-body"):
            yield DataTable(id="answers", cursor_type="row")
            yield PagedTable(id="samples", cursor_type="row", zebra_stripes=True)
        yield AppFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#samples", DataTable).focus()
        self.load_problem()

    def show_problem(self, problem_id: int) -> None:
        """Turn this screen (kept by the app between visits) to another problem.

        Everything shown of the last problem goes, so that nothing stale is drawn while the new
        one loads; building the screen again would cost more than the load itself.
        """
        self.problem_id = problem_id
        self.samples, self.shown = [], []
        self.answer_filter = self.marked = None
        self.only_disagreements = False
        self._generation = -1
        if not self.is_mounted:
            return  # on_mount loads it
        self.query_one("#problem-head", Static).update("")
        # Hidden rather than emptied: the box keeps its height, so the tables below do not move
        # (and are not drawn again) when the next statement arrives.
        self.workers.cancel_group(self, "statement")
        self.query_one("#statement", Markdown).visible = False
        self.query_one("#answers", DataTable).clear(columns=True)
        samples = self.query_one("#samples", PagedTable)
        samples.set_rows(SAMPLE_COLUMNS, [])
        samples.scroll_home(animate=False, immediate=True)
        samples.focus()
        self.load_problem()

    def on_screen_resume(self) -> None:
        if self._generation not in (-1, self.app.generation):
            self.load_problem()

    @work(thread=True, exclusive=True, group="problem", exit_on_error=False)
    def load_problem(self) -> None:
        app = self.app
        runs = [r for r in (app.run_a, app.run_b) if r is not None]
        generation = app.generation

        def fetch(db):  # noqa: ANN001, ANN202
            problem = problems_of(db, [self.problem_id])[self.problem_id]
            groups, samples, graders, disagreed = {}, [], {}, set()
            for run in runs:
                grader = app.grader_for(run.id) or resolve_grader(db, run)
                graders[run.id] = grader
                groups[run.id] = answer_groups(db, run.id, self.problem_id, grader)
                samples += samples_of_problem(db, run.id, self.problem_id, grader)
                disagreed |= audit.disagreeing_samples(db, run.id, self.problem_id)
            labelled = annotations.labelled_samples(db, [s.id for s in samples])
            counts: dict[int, tuple[int, int]] = {}
            aggregate = [(r.id, graders[r.id]) for r in runs if r.aggregate_only]
            if aggregate:
                for line in problem_lines(db, runs[0].dataset, aggregate):
                    if line.id == self.problem_id:
                        counts = dict(line.counts)
            return (problem, groups, samples, frozenset(labelled), frozenset(disagreed), graders,
                    counts)

        problem, groups, samples, labelled, disagreed, graders, counts = app.source.query(fetch)
        self.post_message(ProblemLoaded(problem, groups, samples, labelled, disagreed, graders,
                                        counts, generation))

    @on(ProblemLoaded)
    def _loaded(self, message: ProblemLoaded) -> None:
        app = self.app
        p = message.problem
        if p.id != self.problem_id:
            return  # a load for the problem this screen showed before
        self._generation = message.generation
        meta = browse.metadata_summary(p.metadata)
        head = Text.assemble(
            (f"Problem #{p.idx}", "bold"), f"  {meta}  " if meta else "  ",
            ("reference answer: ", "dim"), (p.answer or "—", "bold reverse"),
            ("  grader ", "dim"), "/".join(dict.fromkeys(message.graders.values())))
        self.query_one("#problem-head", Static).update(head)
        self._show_statement(browse.trace_markdown(p.prompt or ""))
        answer_rows: list[tuple[tuple[str, str, str, Text], str]] = []
        for run_id, (n, c) in message.counts.items():
            # Imported counts only: c/n is all there is, and there are no sample texts.
            answer_rows.append(((app.label_of(run_id), f"{c}/{n} correct", str(n), Text("")),
                                f"{run_id}\x00counts"))
            head.append(f"\n{app.label_of(run_id)}: {c}/{n} correct · imported as counts only: "
                        "no sample texts")
        self.query_one("#problem-head", Static).update(head)
        for run_id, groups in message.groups.items():
            for g in groups:
                answer_rows.append(((app.label_of(run_id), g.answer if g.answer is not None
                                     else "—", str(g.count),
                                     Text(MARK[g.verdict], style=VERDICT_STYLE.get(g.verdict, ""))),
                                    f"{run_id}\x00{NONE if g.answer is None else g.answer}"))
        self._fill_answers(answer_rows)
        self.samples = message.samples
        self.labelled = message.labelled
        self.disagreed, self.graders = message.disagreed, message.graders
        self.show_samples()

    def _available(self, table_id: str) -> int | None:
        """The cells a table's columns have (a scrollbar's taken), None before its layout."""
        table = self.query_one(f"#{table_id}", DataTable)
        width = table.size.width
        return width - table.styles.scrollbar_size_vertical if width else None

    def _answers_layout(self) -> tuple[list[str], list[int]]:
        values = [max((cell_len(str(cells[i])) for cells, _ in self._answer_rows), default=0)
                  for i in range(4)]
        return fit_columns(["run", "answer", "n", ""], values, self._available("answers"),
                           ANSWER_SHRINK, SHORT_HEADERS)

    def _samples_layout(self) -> tuple[list[str], list[int]]:
        return fit_columns([label for label, _ in SAMPLE_COLUMNS], self._sample_values,
                           self._available("samples"), SAMPLE_SHRINK, SHORT_HEADERS)

    def _fill_answers(self, rows: list[tuple[tuple[str, str, str, Text], str]]) -> None:
        """The answers pane: run, answer, n, mark; the run and the answer end in "…" where the
        pane is too narrow for them (a long run label at 80 columns)."""
        self._answer_rows = rows
        answers = self.query_one("#answers", DataTable)
        answers.clear(columns=True)
        labels, widths = self._layouts["answers"] = self._answers_layout()
        for label, width in zip(labels, widths):
            answers.add_column(label, width=width)
        for (run, answer, n, mark), key in rows:
            answers.add_row(_one_line(run), _one_line(answer), _one_line(n, "right"), mark,
                            key=key)

    @work(exclusive=True, group="statement", exit_on_error=False)
    async def _show_statement(self, markdown: str) -> None:
        statement = self.query_one("#statement", Markdown)
        await statement.update(markdown)
        statement.visible = True

    def show_samples(self) -> None:
        """Fill the samples table (a page at a time) with the samples the answer filter keeps."""
        table = self.query_one("#samples", PagedTable)
        row = table.cursor_row
        flt = self.answer_filter
        self.shown = [s for s in self.samples
                      if (flt is None or (s.run_id == flt[0] and s.answer == flt[1]))
                      and (not self.only_disagreements or s.id in self.disagreed)]
        rows = SampleRows(self.shown, {r.id: r.label for r in self.app.runs}, self.marked,
                          self.labelled, self.disagreed)
        self._sample_values = rows.widths([""] * len(SAMPLE_COLUMNS))
        labels, widths = self._layouts["samples"] = self._samples_layout()
        table.set_rows([(label, None) for label in labels], rows, row, widths)
        # The first fill can come before the panes have their final widths (the screen's
        # breakpoint class arrives with its first layout): fit again once they have them.
        self.call_after_refresh(self._refit)

    def _refit(self) -> None:
        """Fit the columns again where a pane's new width changes their headers or widths."""
        if "answers" in self._layouts and self._answers_layout() != self._layouts["answers"]:
            self._fill_answers(self._answer_rows)
        if "samples" in self._layouts and self._samples_layout() != self._layouts["samples"]:
            self.show_samples()

    def on_resize(self) -> None:
        self.call_after_refresh(self._refit)

    @property
    def current(self) -> SampleRow | None:
        table = self.query_one("#samples", DataTable)
        if not self.shown or table.cursor_row < 0:
            return None
        return self.shown[min(table.cursor_row, len(self.shown) - 1)]

    @on(DataTable.RowSelected, "#answers")
    def _answer_picked(self, event: DataTable.RowSelected) -> None:
        run, _, answer = str(event.row_key.value).partition("\x00")
        if answer == "counts":
            return  # an aggregate-only run's counts: no samples to filter
        self.answer_filter = (int(run), None if answer == NONE else answer)
        self.show_samples()
        self.query_one("#samples", DataTable).focus()

    @on(DataTable.RowSelected, "#samples")
    def _sample_picked(self, event: DataTable.RowSelected) -> None:
        from .trace import TraceScreen

        sample = self.shown[event.cursor_row]
        same_run = [s for s in self.shown if s.run_id == sample.run_id]
        self.app.push_screen(TraceScreen(same_run, same_run.index(sample)))

    @on(RunsChanged)
    def _runs_changed(self, message: RunsChanged) -> None:
        if set(self.app.pair_ids) & message.run_ids:
            self.load_problem()

    def action_clear_filter(self) -> None:
        self.answer_filter = None
        self.only_disagreements = False
        self.show_samples()

    def action_disagreements(self) -> None:
        self.only_disagreements = not self.only_disagreements
        self.show_samples()
        if self.only_disagreements:
            self.notify(f"{len(self.shown)} samples on which the graders disagree", timeout=3)

    def action_mark(self) -> None:
        sample = self.current
        if sample is not None:
            self.marked = None if self.marked == sample.id else sample.id
            self.show_samples()
            if self.marked:
                self.notify("Marked; pick another sample and press d to diff the two")

    def action_diff(self) -> None:
        from .diff import DiffScreen

        sample = self.current
        if sample is None:
            return
        if self.marked is not None and self.marked != sample.id:
            self.app.push_screen(DiffScreen(self.problem_id, self.marked, sample.id))
        else:
            self.app.push_screen(DiffScreen(self.problem_id, sample.id))
