"""Rewrite the outputs shown in README.md and docs/*.md after a deliberate change to the model.

    python tests/update_examples.py                 # every document
    python tests/update_examples.py docs/usage.md   # some of them
    python tests/update_examples.py --all           # rewrite every output, even those that still match

Re-runs every ``$ python ...`` command of the console blocks and every ``>>>`` example, exactly as
tests/test_examples.py does, and replaces each shown output that no longer matches with what was printed.
Outputs that still match are left untouched (with ``--all``, every output is rewritten, its times and paths
included). ``...`` elisions are kept where the new output still fits them;
otherwise the whole output is written and the document is named below, so the elisions can be put back by
hand. Read the diff (``git diff README.md docs/``) before committing: it is the change in what users see.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_examples import ROOT, documents, update_document  # noqa: E402


def main(argv: list[str]) -> int:
    everything = "--all" in argv
    paths = [Path(a).resolve() for a in argv if a != "--all"] or documents()
    for path in paths:
        examples, rewritten, notes = update_document(path, everything)
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {examples} example(s), "
              f"{rewritten} output(s) rewritten")
        for note in notes:
            print(f"  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
