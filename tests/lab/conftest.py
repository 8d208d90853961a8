"""The lab lives in sample_db/lab, outside the installed package: make the repository root
importable so ``sample_db.lab`` resolves however pytest is started."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
