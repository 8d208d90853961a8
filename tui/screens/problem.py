"""Problem: the statement, each run's answer evidence (entropy, distinct answers, mode, maj@n,
token entropy), its solution set grouped by answer cluster, and the samples with their
perplexity under each scorer (sortable by it)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import overload

from reachscope.core import answer_stats, browse
from reachscope.core.answer_stats import AnswerStats, ClusterGroup
from reachscope.store import annotations, audit
from reachscope.store import answers as store_answers
from reachscope.store.grades import resolve_grader
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
#: Columns of the samples table left out, in this order, where the pane is too narrow for them
#: all even once the others have shrunk (the trace shows both; the PPL columns stay).
SAMPLE_DROP = (4, 5)
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


def group_text(group: ClusterGroup) -> str:
    """An answer cluster as the answers pane shows it: its first member, and how many other
    forms the grader judged the same (``0.5 +2`` for 0.5, 1/2 and \\frac12)."""
    if group.answer is None:
        return "—"
    more = len(group.members) - 1
    return f"{group.answer} +{more}" if more else group.answer


def run_line(label: str, stats: AnswerStats, token_entropy: tuple[str, float] | None) -> Text:
    """One run's answer evidence on a problem, for the header: c/n, answer entropy H (nats)
    and H / ln a (a: answered samples), distinct answers, the mode's share and verdict,
    maj@n, and the mean token entropy under the run's own model where scores exist."""
    d = stats.distribution
    n = stats.clusters.n
    line = Text.assemble((label, "bold"), f" {stats.correct}/{n}")
    if d.answered:
        norm = "" if math.isnan(d.normalized_entropy) else f" ({d.normalized_entropy + 0.0:.2f})"
        mark = "✓" if d.mode_correct == 1 else "✗" if d.mode_correct == 0 else "±"
        line.append_text(Text.assemble(
            ("  H ", "dim"), f"{d.entropy + 0.0:.2f}{norm}", ("  ans ", "dim"), str(d.distinct),
            ("  mode ", "dim"), f"{d.mode_share:.0%} ",
            (mark, VERDICT_STYLE["correct" if mark == "✓" else "incorrect"])))
    line.append_text(Text.assemble((f"  maj@{n} ", "dim"), f"{stats.maj_n:.2f}"))
    if token_entropy is not None:
        line.append_text(Text.assemble(("  tok H ", "dim"), f"{token_entropy[1]:.2f}"))
    return line


class SampleRows(Sequence[RowSpec]):
    """The samples table's rows, each built only when the table adds it.

    A problem has thousands of samples and the table adds a hundred rows at a time: building
    every row up front (seven cell objects each) cost time, and the many long-lived objects
    made the garbage collector's full passes, each near 100 ms, come every other problem.
    """

    def __init__(self, samples: list[SampleRow], labels: dict[int, str],
                 marked: int | None, labelled: frozenset[int] = frozenset(),
                 disagreed: frozenset[int] = frozenset(),
                 ppl: dict[int, dict[str, float]] | None = None,
                 scorers: Sequence[str] = ()) -> None:
        self.samples, self.labels, self.marked = samples, labels, marked
        self.labelled, self.disagreed = labelled, disagreed
        self.ppl, self.scorers = ppl or {}, list(scorers)
        #: The columns shown (indices into every column: SAMPLE_COLUMNS, then a PPL column
        #: per scorer); None: all.
        self.keep: list[int] | None = None

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

    def _ppl_texts(self, s: SampleRow) -> list[str]:
        values = self.ppl.get(s.id, {})
        return [browse.format_ppl(values.get(name)) for name in self.scorers]

    def _row(self, s: SampleRow) -> RowSpec:
        cells = (Cell(self._label(s)), *sample_cells(s), *map(right, self._ppl_texts(s)))
        if self.keep is not None:
            cells = tuple(cells[i] for i in self.keep)
        return cells, None

    def widths(self, labels: Sequence[str]) -> list[int]:
        """Each column's width (its widest text or its label), without building the cells;
        every column, whatever :attr:`keep` says."""
        widths = [cell_len(label) for label in labels]
        for s in self.samples:
            for i, text in enumerate((self._label(s), *sample_texts(s), *self._ppl_texts(s))):
                n = cell_len(text)
                if n > widths[i]:
                    widths[i] = n
        return widths


class ProblemScreen(AppScreen):
    """One problem across the compared runs."""

    BINDINGS = [
        Binding("escape", "app.back", "Back"),
        Binding("d", "diff", "Diff"),
        Binding("m", "mark", "Mark", tooltip="Mark this sample for a diff with another"),
        Binding("x", "clear_filter", "All", tooltip="All samples (clear the filters)"),
        Binding("exclamation_mark", "disagreements", "Disagree", key_display="!",
                tooltip="Only samples on which the run's graders disagree"),
        Binding("o", "ppl_sort", "PPL sort",
                tooltip="Sort samples by PPL under each scorer (low, high, off)"),
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
        self.answer_filter: tuple[int, ClusterGroup] | None = None
        #: answers-pane row key -> (run id, its answer cluster)
        self._groups: dict[str, tuple[int, ClusterGroup]] = {}
        self.marked: int | None = None
        #: The answers pane's rows; the widest value of each column of the samples table; the
        #: headers and widths each table's columns were given (see :meth:`_refit`).
        self._answer_rows: list[tuple[tuple[str, str, str, Text], str]] = []
        self._sample_values: list[int] = []
        self._layouts: dict[str, tuple[list[str], list[int]]] = {}
        self._generation = -1
        #: Perplexity per sample and scorer, the scorers' names, and the sample order: None by
        #: index, else (scorer, highest first).
        self.ppl: dict[int, dict[str, float]] = {}
        self.scorers: list[str] = []
        self.ppl_sort: tuple[str, bool] | None = None
        self.stats: dict[int, AnswerStats] = {}
        self.token_entropy: dict[int, tuple[str, float]] = {}
        self._head = Text()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", markup=False, id="problem-head")
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
        # The PPL order stays: it is a way of reading every problem (the next one's load drops
        # it if that problem's samples have no scores under its scorer).
        self.ppl, self.scorers = {}, []
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

        problem_id = self.problem_id

        def fetch(db):  # noqa: ANN001, ANN202
            problem = problems_of(db, [problem_id])[problem_id]
            answers, samples, graders, disagreed = {}, [], {}, set()
            for run in runs:
                grader = app.grader_for(run.id) or resolve_grader(db, run)
                graders[run.id] = grader
                answers[run.id] = store_answers.answer_rows(db, run.id, problem_id, grader)
                samples += samples_of_problem(db, run.id, problem_id, grader)
                disagreed |= audit.disagreeing_samples(db, run.id, problem_id)
            labelled = annotations.labelled_samples(db, [s.id for s in samples])
            counts: dict[int, tuple[int, int]] = {}
            aggregate = [(r.id, graders[r.id]) for r in runs if r.aggregate_only]
            if aggregate:
                for line in problem_lines(db, runs[0].dataset, aggregate):
                    if line.id == problem_id:
                        counts = dict(line.counts)
            scores = answer_stats.read_likelihoods(db, [s.id for s in samples])
            return (problem, answers, samples, frozenset(labelled), frozenset(disagreed),
                    graders, counts, scores)

        problem, answers, samples, labelled, disagreed, graders, counts, scores = \
            app.source.query(fetch)
        groups = {run_id: answer_stats.cluster_groups(rows) for run_id, rows in answers.items()}
        stats = {run_id: answer_stats.answer_stats(answer_stats.cluster_counts_of(problem_id, rows))
                 for run_id, rows in answers.items() if rows}
        entropy: dict[int, tuple[str, float]] = {}
        for run in runs:
            own = answer_stats.own_scorer(run.label, run.model, scores.scorers)
            value = None if own is None else scores.mean_entropy(
                [s.id for s in samples if s.run_id == run.id], own.name)
            if own is not None and value is not None:
                entropy[run.id] = (own.name, value)
        self.post_message(ProblemLoaded(
            problem, groups, samples, labelled, disagreed, graders, counts, generation, stats,
            scores.ppl, scores.scored_by(), entropy))

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
        self._show_statement(browse.trace_markdown(p.prompt or ""))
        answer_rows: list[tuple[tuple[str, str, str, Text], str]] = []
        for run_id, (n, c) in message.counts.items():
            # Imported counts only: c/n is all there is, and there are no sample texts.
            answer_rows.append(((app.label_of(run_id), f"{c}/{n} correct", str(n), Text("")),
                                f"{run_id}\x00counts"))
            head.append(f"\n{app.label_of(run_id)}: {c}/{n} correct · imported as counts only: "
                        "no sample texts")
        for run_id, stats in message.stats.items():
            head.append("\n")
            head.append(run_line(app.label_of(run_id), stats,
                                 message.token_entropy.get(run_id)))
        self._head = head
        self._groups = {}
        for run_id, groups in message.groups.items():
            for i, g in enumerate(groups):
                key = f"{run_id}\x00{i}"
                self._groups[key] = (run_id, g)
                answer_rows.append(((app.label_of(run_id), group_text(g), str(g.n),
                                     Text(MARK[g.verdict], style=VERDICT_STYLE.get(g.verdict, ""))),
                                    key))
        self._fill_answers(answer_rows)
        self.samples = message.samples
        self.labelled = message.labelled
        self.disagreed, self.graders = message.disagreed, message.graders
        self.stats, self.token_entropy = message.stats, message.token_entropy
        self.ppl, self.scorers = message.ppl, message.scorers
        if self.ppl_sort is not None and self.ppl_sort[0] not in self.scorers:
            self.ppl_sort = None
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

    def _sample_labels(self) -> list[str]:
        return [label for label, _ in SAMPLE_COLUMNS] + [f"ppl {name}" for name in self.scorers]

    def _samples_layout(self) -> tuple[list[int], list[str], list[int]]:
        """The columns shown (indices), their headers and widths: every column where the pane
        has room, else the headers shortened and some columns narrowed (see fit_columns), then
        the columns of :data:`SAMPLE_DROP` left out one by one until the rest fit."""
        labels, values = self._sample_labels(), self._sample_values
        available = self._available("samples")
        keep = list(range(len(labels)))
        drop = [i for i in SAMPLE_DROP if i < len(labels)]
        while True:
            shrink = [(keep.index(i), least) for i, least in SAMPLE_SHRINK if i in keep]
            heads, widths = fit_columns([labels[i] for i in keep], [values[i] for i in keep],
                                        available, shrink, SHORT_HEADERS)
            if available is None or not drop or sum(widths) + 2 * len(widths) <= available:
                return keep, heads, widths
            keep.remove(drop.pop(0))

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
                      if (flt is None or (s.run_id == flt[0] and flt[1].holds(s.answer)))
                      and (not self.only_disagreements or s.id in self.disagreed)]
        if self.ppl_sort is not None:
            by_id = {s.id: s for s in self.shown}
            order = answer_stats.ppl_order([s.id for s in self.shown], self.ppl, *self.ppl_sort)
            self.shown = [by_id[i] for i in order]
        self._show_head()
        rows = SampleRows(self.shown, {r.id: r.label for r in self.app.runs}, self.marked,
                          self.labelled, self.disagreed, self.ppl, self.scorers)
        self._sample_values = rows.widths([""] * len(self._sample_labels()))
        layout = self._samples_layout()
        rows.keep = layout[0]
        labels, widths = self._layouts["samples"] = layout[1], layout[2]
        table.set_rows([(label, None) for label in labels], rows, row, widths)
        # The first fill can come before the panes have their final widths (the screen's
        # breakpoint class arrives with its first layout): fit again once they have them.
        self.call_after_refresh(self._refit)

    def _refit(self) -> None:
        """Fit the columns again where a pane's new width changes their headers or widths."""
        if "answers" in self._layouts and self._answers_layout() != self._layouts["answers"]:
            self._fill_answers(self._answer_rows)
        if "samples" in self._layouts and self._samples_layout()[1:] != self._layouts["samples"]:
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
        key = str(event.row_key.value)
        if key not in self._groups:
            return  # an aggregate-only run's counts: no samples to filter
        self.answer_filter = self._groups[key]
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

    def _show_head(self) -> None:
        """The header: the problem, each run's answer evidence, and the samples' order."""
        head = self._head.copy()
        if self.ppl_sort is not None:
            scorer, descending = self.ppl_sort
            head.append(f"\nsamples by PPL under {scorer}, "
                        f"{'least likely' if descending else 'most likely'} first", "bold")
        self.query_one("#problem-head", Static).update(head)

    def action_ppl_sort(self) -> None:
        """Cycle the samples' order: by index, then by PPL under each scorer, lowest first and
        then highest first."""
        if not self.scorers:
            self.notify("No scores in this file: run `reachscope score` first", timeout=3)
            return
        orders: list[tuple[str, bool] | None] = [None] + [
            (name, descending) for name in self.scorers for descending in (False, True)]
        self.ppl_sort = orders[(orders.index(self.ppl_sort) + 1) % len(orders)] \
            if self.ppl_sort in orders else None
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
