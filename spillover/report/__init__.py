"""Things people read: regression tables (and, later, figures, maps and the run report)."""
