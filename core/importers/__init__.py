"""Importers: the paper's output format, generic sample JSONL, and per-problem counts CSV.

Every import is read and checked completely before anything is written (``read_*``, pure), then
written in one transaction (``write_*``): a malformed line stops the import with
``FILE:LINE: what is wrong`` and the database is exactly as before. Files are remembered by
content hash per run, so importing the same file twice changes nothing, and several seed files
pool into one run with consecutive sample indices.

Modules: ``qwen_jsonl``, ``jsonl`` and ``counts`` parse one format each; ``validation`` reads
records and checks them; ``shipped`` links records to the problems of a shipped dataset;
``writer`` orchestrates and writes through ``reachscope.store``.
"""

from .jsonl import JsonlFields, parse_generic_jsonl
from .qwen_jsonl import parse_qwen_jsonl
from .records import (
    REPORTED_GRADER,
    UPSTREAM_GRADER,
    ImportFormatError,
    ImportResult,
    ParsedProblem,
    ParsedSample,
)
from .writer import (
    SAMPLE_FORMATS,
    import_counts,
    import_samples,
    read_counts_files,
    read_sample_files,
    write_counts_files,
    write_sample_files,
)

__all__ = [
    "REPORTED_GRADER",
    "SAMPLE_FORMATS",
    "UPSTREAM_GRADER",
    "ImportFormatError",
    "ImportResult",
    "JsonlFields",
    "ParsedProblem",
    "ParsedSample",
    "import_counts",
    "import_samples",
    "parse_generic_jsonl",
    "parse_qwen_jsonl",
    "read_counts_files",
    "read_sample_files",
    "write_counts_files",
    "write_sample_files",
]
