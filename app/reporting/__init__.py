"""The report for a case: one document built from the analysis JSON, written as Markdown or PDF."""
