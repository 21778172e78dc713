// node-postgres against a real spirit serve: SCRAM login, bound parameters, named prepared
// statements re-executed, type parsing, array row mode, errors with SQLSTATE.
// Run: node node_check.js PORT

const assert = require("node:assert/strict");
const { Client } = require("pg");

async function main() {
  const port = Number(process.argv[2]);
  const client = new Client({
    host: "127.0.0.1",
    port,
    user: "spirit",
    password: "spirit",
    database: "spirit",
  });
  await client.connect();

  const channels = await client.query(
    "SELECT channel, count(*) AS bookings, sum(price_paid) AS revenue FROM bookings " +
      "WHERE created_at >= $1 GROUP BY channel ORDER BY channel",
    ["2025-01-01 00:00:00"]
  );
  assert.deepEqual(
    channels.rows.map((r) => r.channel),
    ["B2B", "B2B2C", "B2C"]
  );
  // int8 and numeric arrive as strings (node-postgres keeps their precision).
  assert.match(channels.rows[0].bookings, /^\d+$/);
  assert.ok(Number(channels.rows[0].revenue) > 0);

  // A date alone is a valid timestamp parameter, as in PostgreSQL (midnight).
  const sinceDay = await client.query(
    "SELECT count(*)::int AS n FROM bookings WHERE created_at >= $1",
    ["2025-01-01"]
  );
  const sinceMidnight = await client.query(
    "SELECT count(*)::int AS n FROM bookings WHERE created_at >= $1",
    ["2025-01-01 00:00:00"]
  );
  assert.ok(sinceDay.rows[0].n > 0);
  assert.equal(sinceDay.rows[0].n, sinceMidnight.rows[0].n);

  // The session's user, as PostgreSQL names the column.
  const who = await client.query("SELECT current_user");
  assert.deepEqual(who.rows, [{ current_user: "spirit" }]);

  // A named statement is parsed once and executed again with new values.
  for (const tour of [1, 2, 3, 4, 5, 6, 7]) {
    const res = await client.query({
      name: "bookings_of_tour",
      text: "SELECT count(*)::int AS n, max(created_at) AS last FROM bookings WHERE tour_id = $1",
      values: [tour],
    });
    assert.ok(res.rows[0].n > 0, `bookings of tour ${tour}`);
    assert.ok(res.rows[0].last instanceof Date, "timestamps parse as Date");
  }

  const arrays = await client.query({
    text: "SELECT day, channel, revenue FROM metrics.revenue_daily ORDER BY day DESC, channel LIMIT 3",
    rowMode: "array",
  });
  assert.equal(arrays.rows.length, 3);
  assert.deepEqual(
    arrays.fields.map((f) => f.name),
    ["day", "channel", "revenue"]
  );

  await assert.rejects(client.query("SELECT * FROM no_such_table"), (e) => {
    assert.equal(e.code, "42P01");
    return true;
  });
  const again = await client.query("SELECT 1::int AS one");
  assert.equal(again.rows[0].one, 1);

  await client.end();

  const wrong = new Client({ host: "127.0.0.1", port, user: "spirit", password: "nope", database: "spirit" });
  await assert.rejects(wrong.connect(), (e) => {
    assert.equal(e.code, "28P01");
    return true;
  });
  console.log("node-postgres: OK");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
