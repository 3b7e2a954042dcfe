"""Search and timeline over an analysis' stored log files (pure: no web, no database).

query.py compiles what a user asked (literal or RE2 regular expression, filters); scan.py reads
files block by block and finds the matching lines; position.py turns byte offsets into line
numbers and times into offsets; timeline.py counts lines, errors, alarms and markers per minute.
"""
