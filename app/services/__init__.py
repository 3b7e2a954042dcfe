"""Use cases that own their database transactions: uploads, analyses, findings."""
