"""`GET /v1/posts` queries on 200,000 posts (20 workspaces): the newest page, and `q` searches.

Not part of `make bench`: a standalone check of the list's keyset index and the trigram index
behind `q`. Runs the exact SQL the list issues, in a database of its own (dropped after):

    .venv/bin/python -m bench.posts_search
"""

import asyncio
import random
import statistics
import time
import uuid

import asyncpg

from services.scheduler.finding import search_text
from shared.migrations import upgrade

DB = "apiposts_bench"
WORDS_HE = ["והמוצר", "החדש", "שלנו", "לילדים", "בחנות", "מבצע", "היום", "שלום", "למשפחה", "ספרים"]
WORDS_IS = ["hestinum", "Þórsmörk", "börnin", "veðrið", "fjallið", "sumarið", "tilboð", "nýtt"]
WORDS_EN = ["launch", "sale", "summer", "product", "new", "today", "family", "books", "deal"]


ADMIN_DSN = "postgresql://postgres@localhost/postgres"
COLUMNS = [
    "id",
    "workspace_id",
    "status",
    "version",
    "text",
    "media",
    "tags",
    "campaign",
    "created_by",
    "search_text",
]
Q_LIST = (
    "SELECT id FROM scheduler.posts WHERE workspace_id = $1 "
    "ORDER BY created_at DESC, id DESC LIMIT 51"
)
Q_SEARCH = (
    "SELECT id FROM scheduler.posts WHERE workspace_id = $1 AND search_text LIKE $2 "
    "ORDER BY created_at DESC, id DESC LIMIT 51"
)


async def drop_database():
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await admin.close()


async def fresh_database():
    """The benchmark's own database, migrated to the scheduler's head."""
    await drop_database()
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{DB}"')
    await admin.close()
    await asyncio.to_thread(upgrade, "scheduler", f"postgresql+asyncpg://postgres@localhost/{DB}")


def generated_posts(workspaces):
    """200,000 drafts of eight words mixed from three languages and one rare word each."""
    rnd = random.Random(7)
    rows = []
    for i in range(200_000):
        words = rnd.sample(WORDS_HE + WORDS_IS + WORDS_EN, 8) + [f"w{rnd.randrange(100000)}"]
        text = " ".join(words)
        rows.append(
            (
                uuid.uuid4(),
                workspaces[i % 20],
                "draft",
                1,
                text,
                "[]",
                [],
                None,
                "k",
                search_text(text, []),
            )
        )
    return rows


async def timed(c, sql, *args, n=30):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await c.fetch(sql, *args)
        out.append((time.perf_counter() - t) * 1000)
    out.sort()
    return statistics.median(out), out[int(len(out) * 0.95) - 1]


async def report_queries(c, ws):
    """Each query's p50 and p95 over 30 runs, and the scan its plan chose."""
    for label, sql, args in [
        ("list, newest 50", Q_LIST, (ws,)),
        ("q=מוצר (common, Hebrew prefix)", Q_SEARCH, (ws, "%מוצר%")),
        ("q=hest (common, Icelandic stem)", Q_SEARCH, (ws, "%hest%")),
        ("q=w12345 (rare)", Q_SEARCH, (ws, "%w12345%")),
    ]:
        p50, p95 = await timed(c, sql, *args)
        plan = await c.fetch("EXPLAIN ANALYZE " + sql, *args)
        uses = [r[0] for r in plan if "Index" in r[0] or "Seq Scan" in r[0]]
        print(
            f"{label}: p50 {p50:.2f} ms, p95 {p95:.2f} ms; plan: {uses[0].strip() if uses else '?'}"
        )


async def main():
    await fresh_database()
    c = await asyncpg.connect(f"postgresql://postgres@localhost/{DB}")
    workspaces = [uuid.uuid4() for _ in range(20)]
    rows = generated_posts(workspaces)
    t0 = time.perf_counter()
    await c.copy_records_to_table("posts", schema_name="scheduler", records=rows, columns=COLUMNS)
    await c.execute("ANALYZE scheduler.posts")
    print(f"loaded 200,000 posts in {time.perf_counter() - t0:.1f} s")
    await report_queries(c, workspaces[3])
    await c.close()
    await drop_database()


asyncio.run(main())
