-- Iteration tasks no longer reference their session through a foreign key. The task store port
-- (like its in-memory adapter and its contract suite) accepts a task for any session id: a task
-- is identified by its own id and by (turn, iteration), and a worker that finds the session gone
-- acknowledges the task without work. Deleting a session still deletes its tasks:
-- `PgSessionStore::delete_session` removes them in the same statement as the session.
ALTER TABLE iteration_tasks DROP CONSTRAINT iteration_tasks_session_id_fkey;
