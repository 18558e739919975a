-- Tasks: the contract's ten fields. The CHECK constraints refuse what the API refuses, so a
-- bug in validation cannot store a task the contract says cannot exist.

-- Up Migration
CREATE TABLE tasks (
  id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id      text        NOT NULL CONSTRAINT tasks_user_id_length CHECK (char_length(user_id) BETWEEN 1 AND 255),
  title        text        NOT NULL CONSTRAINT tasks_title_length CHECK (char_length(title) BETWEEN 1 AND 500),
  description  text                 CONSTRAINT tasks_description_length CHECK (char_length(description) <= 10000),
  status       text        NOT NULL DEFAULT 'pending'
                                    CONSTRAINT tasks_status_valid CHECK (status IN ('pending', 'in_progress', 'completed')),
  priority     text                 CONSTRAINT tasks_priority_valid CHECK (priority IN ('low', 'medium', 'high', 'urgent')),
  due_date     timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  -- completed_at is set exactly when the task is completed.
  CONSTRAINT tasks_completed_at_matches_status CHECK ((status = 'completed') = (completed_at IS NOT NULL))
);

-- Keyset pages: newest first, ties broken by id (list-tasks' order, and its cursor).
CREATE INDEX tasks_user_created_idx ON tasks (user_id, created_at DESC, id DESC);
-- Stats (counts per status) and pages filtered by status, in the same order.
CREATE INDEX tasks_user_status_created_idx ON tasks (user_id, status, created_at DESC, id DESC);

-- Down Migration
DROP TABLE tasks;
