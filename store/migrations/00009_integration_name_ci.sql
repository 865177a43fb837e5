-- +goose Up
-- Integration names are unique ignoring case: "Acme" and "acme" would be told apart by the CLI only by a shift
-- key, and a user typing either would reach one of them by chance. Names that already collide ignoring case keep
-- the oldest integration's name; each younger one gets its id appended ("Acme" → "Acme-7"), so the migration never
-- fails on existing data and nothing is lost: `starter integration list` shows the new names and `integration
-- edit NAME --name ...` renames them.
UPDATE integrations i SET name = i.name || '-' || i.id
 WHERE EXISTS (SELECT 1 FROM integrations o WHERE lower(o.name) = lower(i.name) AND o.id < i.id);
CREATE UNIQUE INDEX integrations_name_ci ON integrations (lower(name));

-- +goose Down
DROP INDEX integrations_name_ci;
