-- The outbox index holds only what the outbox reads: pending tasks not yet handed to a queue.
-- It held every task whose `published_at` is NULL, which is every task where no queue marks
-- them (PostgreSQL notifications, NATS): each claim and each completion wrote another entry,
-- and finished tasks stayed in it for good.
DROP INDEX iteration_tasks_unpublished_idx;
CREATE INDEX iteration_tasks_unpublished_idx ON iteration_tasks (created_at)
    WHERE status = 'pending' AND published_at IS NULL;
