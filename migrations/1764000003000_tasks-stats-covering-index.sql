-- get-stats reads only the index: `tasks_user_status_created_idx` also carries `due_date`
-- (INCLUDE), so the aggregate (counts per status, overdue = not completed and due_date past)
-- finds every column it needs in the index entries and, on pages the visibility map marks
-- all-visible, never visits the table (an index-only scan; api/test/query-plans.test.ts).
--
-- The index is replaced rather than joined by a new one: its key columns, name and order
-- stay as they were, so list pages filtered by status read it as before, and a create or
-- update still maintains three indexes, not four. Expand-safe: the previous release's
-- queries use the same key columns.
--
-- A plain CREATE INDEX blocks writes to `tasks` while it builds (node-pg-migrate runs each
-- migration in a transaction, where CONCURRENTLY is not allowed); at this table's size that
-- is well under a second.

-- Up Migration
CREATE INDEX tasks_user_status_created_idx_new ON tasks (user_id, status, created_at DESC, id DESC) INCLUDE (due_date);
DROP INDEX tasks_user_status_created_idx;
ALTER INDEX tasks_user_status_created_idx_new RENAME TO tasks_user_status_created_idx;

-- Down Migration
CREATE INDEX tasks_user_status_created_idx_old ON tasks (user_id, status, created_at DESC, id DESC);
DROP INDEX tasks_user_status_created_idx;
ALTER INDEX tasks_user_status_created_idx_old RENAME TO tasks_user_status_created_idx;
