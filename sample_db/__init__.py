"""The demo database (`demo.db`), installed as package data of ``reachscope.sample_db`` so that a
regular (non-editable) install opens it too. The build script and the lab beside it are for a
checkout of the repository."""
