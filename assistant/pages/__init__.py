"""Reviewed answer pages: answers saved for review, approved pages served first, exports.

store.py and schema.py (SQLite), workflow.py (statuses and roles), version.py (library
version, staleness), match.py (does a question ask what a page answers), service.py (the API),
export.py (HTML and Markdown), cli.py (`assistant pages ...`). Nothing heavy is imported here.
"""
