"""The reachscope app: composes the screens, holds the run pair being compared, and polls the
database for changes made by other processes."""

from __future__ import annotations

import gc
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reachscope.store import Run, StoreError
from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from .messages import GradersListed, RunsChanged
from .screens.compare import CompareScreen
from .source import Source

if TYPE_CHECKING:
    from .screens.problem import ProblemScreen


class ReachscopeApp(App[None]):
    """Compare base and RL runs stored in one reachscope database."""

    CSS_PATH = "app.tcss"
    TITLE = "reachscope"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("L", "live", "Live"),
        Binding("ctrl+r", "reload", "Reload", show=False, tooltip="Re-read the database"),
        Binding("A", "annotations", "Labels", show=False, tooltip="All labels of a run"),
        Binding("R", "review", "Review", show=False, tooltip="Review queue: label samples"),
        Binding("g", "cycle_grader", "Grader", show=False,
                tooltip="Next grader of the compared runs"),
        Binding("escape", "back", "Back", show=False),
    ]

    def __init__(
        self, db_path: str | Path, poll_interval: float = 1.0, immutable: bool = False,
        reviewer: str = "", allow_labels: bool = True,
    ) -> None:
        super().__init__()
        #: False when served read-only (`reachscope serve` without --allow-labels).
        self.allow_labels = allow_labels
        self.db_path = Path(db_path)
        self.immutable = immutable
        #: Who labels samples in this session (one current label per sample and reviewer).
        self.reviewer = reviewer
        self.source = Source(self.db_path, immutable=immutable)
        self.poll_interval = poll_interval
        self.runs: list[Run] = []
        #: The two runs compared (A, usually base; B, usually RL) and each one's grader.
        self.run_a: Run | None = None
        self.run_b: Run | None = None
        self.graders: dict[int, str] = {}
        #: The grader picked with `g` for every compared run (None: each run's primary grader).
        self.grader_choice: str | None = None
        #: Bumped on every change seen by the poller; screens reload on resume when it moved.
        self.generation = 0
        self._problem_screen: ProblemScreen | None = None
        self.sub_title = str(self.db_path.name)
        self._gc_paused = False

    def on_load(self) -> None:
        # Start-up builds the widget tree, styles and caches (long-lived, few cycles to free):
        # collecting meanwhile costs a tenth of a second of the cold start and frees next to
        # nothing. Collection resumes once the first screen is drawn (see _resume_gc).
        self._gc_paused = gc.isenabled()
        gc.disable()

    def on_mount(self) -> None:
        self.push_screen(CompareScreen())
        if self.poll_interval > 0:
            self.set_interval(self.poll_interval, self.check_for_changes)
        self.call_after_refresh(self._resume_gc)

    def _resume_gc(self) -> None:
        # What start-up built (modules, classes, styles: most of the heap) lives as long as the
        # app; frozen, the collector's full passes no longer scan it (tens of ms each, a few
        # times a minute while browsing).
        gc.freeze()
        if self._gc_paused:
            self._gc_paused = False
            gc.enable()

    def on_unmount(self) -> None:
        self.source.close()
        self._resume_gc()
        gc.unfreeze()  # a closed app can be freed

    # -- polling ------------------------------------------------------------------------------

    def check_for_changes(self) -> None:
        """Poll the database (cheaply) for commits by other processes."""
        self._poll()

    @work(thread=True, exclusive=True, group="poll", exit_on_error=False)
    def _poll(self) -> None:
        changed = self.source.poll()
        if changed:
            self.post_message(RunsChanged(changed))

    @on(RunsChanged)
    def _forward_change(self, message: RunsChanged) -> None:
        self.generation += 1
        self.screen.post_message(RunsChanged(set(message.run_ids)))

    def push_screen(self, screen: Screen[Any] | str, *args: Any, **kwargs: Any) -> Any:
        """Push a screen with its breakpoint classes (``-narrow``/``-wide``) already set: else
        the resize that a screen gets when mounted sets them and every widget is styled twice
        (a tenth of a second for the first screen)."""
        if isinstance(screen, Screen) and not screen.is_attached:
            classes: dict[str, bool] = {}
            for size, own, default in (
                (self.size.width, screen.HORIZONTAL_BREAKPOINTS, self.HORIZONTAL_BREAKPOINTS),
                (self.size.height, screen.VERTICAL_BREAKPOINTS, self.VERTICAL_BREAKPOINTS),
            ):
                breakpoints = (default if own is None else own) or []
                on = screen._get_breakpoint_classes(size, breakpoints)
                classes.update({name: name in on for _, name in breakpoints})
            screen.update_classes(classes, update=False)
        return super().push_screen(screen, *args, **kwargs)

    # -- shared state -------------------------------------------------------------------------

    def set_pair(self, run_a: Run | None, run_b: Run | None) -> None:
        self.run_a, self.run_b = run_a, run_b

    def label_of(self, run_id: int) -> str:
        for run in self.runs:
            if run.id == run_id:
                return run.label
        return str(run_id)

    @property
    def pair_ids(self) -> list[int]:
        return [r.id for r in (self.run_a, self.run_b) if r is not None]

    # -- actions ------------------------------------------------------------------------------

    def action_back(self) -> None:
        if len(self.screen_stack) > 2:
            self.pop_screen()

    def action_reload(self) -> None:
        """Re-read everything, as if every run had changed (the poll does this by itself)."""
        self.generation += 1
        self.screen.post_message(RunsChanged({r.id for r in self.runs} | {-1}))

    def grader_for(self, run_id: int) -> str | None:
        """The grader whose verdicts screens show for a run (None: not known yet)."""
        return self.grader_choice or self.graders.get(run_id)

    @work(thread=True, exclusive=True, group="graders", exit_on_error=False)
    def action_cycle_grader(self) -> None:
        from reachscope.store import audit

        ids = self.pair_ids
        graders = self.source.query(lambda db: audit.common_graders(db, ids))
        self.post_message(GradersListed(graders))

    @on(GradersListed)
    def _graders_listed(self, message: GradersListed) -> None:
        graders = message.graders
        if not graders:
            self.notify("No grader has graded the compared runs yet", severity="warning")
            return
        current = self.grader_for(self.pair_ids[0]) if self.pair_ids else None
        nxt = graders[(graders.index(current) + 1) % len(graders)] if current in graders \
            else graders[0]
        self.grader_choice = nxt
        for run_id in self.pair_ids:
            self.graders[run_id] = nxt
        self.notify(f"grader: {nxt} (of {', '.join(graders)})", timeout=3)
        self.generation += 1
        self.screen.post_message(RunsChanged(set(self.pair_ids)))

    def action_annotations(self) -> None:
        from .screens.annotations import AnnotationsScreen

        if self.run_a is None:
            self.notify("No run selected yet", severity="warning")
        elif not isinstance(self.screen, AnnotationsScreen):
            self.push_screen(AnnotationsScreen())

    def action_review(self) -> None:
        from .screens.review import ReviewScreen  # imported when first opened

        if not isinstance(self.screen, ReviewScreen):
            self.push_screen(ReviewScreen())

    def action_live(self) -> None:
        from .screens.live import LiveScreen  # imported when first opened, not at start-up

        if not isinstance(self.screen, LiveScreen):
            self.push_screen(LiveScreen())

    def open_problem(self, problem_id: int) -> None:
        """Show one problem. Its screen is built once and turned to each problem opened after."""
        from .screens.problem import ProblemScreen  # with Markdown: not needed at start-up

        if self._problem_screen is None:
            self._problem_screen = ProblemScreen(problem_id)
            self.install_screen(self._problem_screen, "problem")
        else:
            self._problem_screen.show_problem(problem_id)
        self.push_screen("problem")

    def trajectory_runs(self) -> list[Run]:
        """The runs on run A's dataset (a trajectory needs three or more)."""
        if self.run_a is None:
            return []
        return [r for r in self.runs if r.dataset == self.run_a.dataset]

    def has_trajectory(self) -> bool:
        return len(self.trajectory_runs()) >= 3

    def open_trajectory(self) -> None:
        """The checkpoint trajectory of run A's dataset (three or more runs)."""
        from .screens.trajectory import TrajectoryScreen

        runs = self.trajectory_runs()
        if len(runs) < 3:
            self.notify("A trajectory needs three or more runs on the dataset",
                        severity="warning")
            return
        self.push_screen(TrajectoryScreen(runs, self.grader_choice))

    def action_problems(self, category: str = "all") -> None:
        from .screens.problems import ProblemsScreen

        if self.run_a is None:
            self.notify("No run selected yet", severity="warning")
            return
        self.push_screen(ProblemsScreen(category=category))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        a = self.run_a.label if self.run_a else "A"
        b = self.run_b.label if self.run_b else "B"
        yield SystemCommand("Compare runs", "pass@k curves and coverage", self._to_compare)
        yield SystemCommand("Problems", "All problems with c/n per run", self.action_problems)
        yield SystemCommand(f"Problems only {a} solves", "Coverage: solved by A only",
                            lambda: self.action_problems("only_a"))
        yield SystemCommand(f"Problems only {b} solves", "Coverage: solved by B only",
                            lambda: self.action_problems("only_b"))
        yield SystemCommand("Live monitor", "Progress of running runs", self.action_live)
        yield SystemCommand("Review", "Label the samples of a review queue", self.action_review)

    def _to_compare(self) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()

    # -- errors -------------------------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.report_error(event.worker.error)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """A notification whose text is shown as it is, whatever ``markup`` says (screens and
        widgets pass Textual's default, True): notifications carry run labels, search queries
        and error messages, and an ``[/]`` in one of them would raise MarkupError."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def report_error(self, error: BaseException | None) -> None:
        """Show a failed query or write as a notification (the app keeps running)."""
        text = str(error) if isinstance(error, StoreError) else f"{type(error).__name__}: {error}"
        self.notify(text, title="Error", severity="error", timeout=8)


def create_app(
    db_path: str | Path, poll_interval: float = 1.0, immutable: bool = False, reviewer: str = "",
    allow_labels: bool = True,
) -> ReachscopeApp:
    """The app for a database file: the one factory the CLI, `serve` and the tests use."""
    return ReachscopeApp(db_path, poll_interval=poll_interval, immutable=immutable,
                         reviewer=reviewer, allow_labels=allow_labels and not immutable)
