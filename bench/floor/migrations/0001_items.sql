-- One table for the throughput floor: each request inserts one row.
CREATE TABLE items (
  id TEXT PRIMARY KEY NOT NULL,
  body TEXT NOT NULL,
  created_at TEXT NOT NULL
);
