"""Progress of long stages as plain log lines when there is no terminal."""

import logging

from spillover.progress import track


def test_plain_lines_at_each_tenth_without_control_characters(caplog):
    with caplog.at_level(logging.INFO, logger="spillover.progress"):
        assert list(track(range(20), total=20, stage="ingest", unit="files", bar=True)) == list(
            range(20)
        )
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 10
    assert lines[0].startswith("ingest: 2/20 files (10%), ")
    assert lines[-1].startswith("ingest: 20/20 files (100%), ") and lines[-1].endswith("ETA 0 s")
    assert all(ch.isprintable() for line in lines for ch in line)
