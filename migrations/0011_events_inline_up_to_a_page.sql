-- An event row is kept whole in its page up to the page's size. PostgreSQL compresses a row's
-- large values, and moves them to the TOAST table when still too big, as soon as the row passes
-- about 2 KB: a turn's `llm.generation` (its system prompt and tool list, about 3 KB of JSON)
-- was compressed and then stored out of line on every turn, one more heap row, index entry and
-- WAL record each. Rows up to 8160 bytes now stay in the page uncompressed; larger ones are
-- compressed and moved out as before. Only rows written from now on are affected.
ALTER TABLE events SET (toast_tuple_target = 8160);
