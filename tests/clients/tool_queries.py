"""Replays the queries a BI tool sends (queries/tests/tools/<tool>.sql) through psycopg 3, as
Grafana's and the notebooks' drivers run them: each statement prepared on the server and
fetched in binary, then run again unprepared with text results.

The fixture format is ToolQueries.java's: statements separated by blank lines, each ending with
`;`, preceded by `-- source:` and optionally `-- expect: rows`.

Usage: tool_queries.py PORT FILE...
"""

import re
import sys
from pathlib import Path

import psycopg

port = int(sys.argv[1])
failures = []
ran = 0
with psycopg.connect(
    host="127.0.0.1", port=port, user="spirit", password="spirit", dbname="spirit", autocommit=True
) as conn:
    for name in sys.argv[2:]:
        text = Path(name).read_text()
        for statement in re.split(r";\s*\n\s*\n", text):
            sql = statement.strip().removesuffix(";")
            lines = [l for l in sql.splitlines() if l.strip()]
            if all(l.strip().startswith("--") for l in lines):
                continue
            source = next((l for l in lines if l.startswith("-- source:")), sql)
            where = f"{Path(name).name}: {source}"
            ran += 1
            try:
                for binary, prepare in ((True, True), (False, False)):
                    cur = conn.cursor(binary=binary)
                    # Without parameters psycopg sends the text as it is (% included).
                    cur.execute(sql, prepare=prepare)
                    rows = cur.fetchall() if cur.description else []
                    if "-- expect: rows" in sql and not rows:
                        failures.append(f"{where}\n  returned no rows")
                        break
            except psycopg.Error as e:
                failures.append(f"{where}\n  {e.sqlstate}: {str(e).strip()}")

if failures:
    print("\n".join(failures))
    sys.exit(f"{len(failures)} of {ran} tool queries failed")
print(f"tool queries: {ran} OK")
