-- The row every `POST /accept` reads by primary key (an accept reads its deployment the same way).
INSERT INTO items (id, body, created_at) VALUES ('seeded', '{}', '2026-01-01T00:00:00.000Z');
