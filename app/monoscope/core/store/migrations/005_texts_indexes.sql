-- The two secondary indexes of `texts` (idx_texts_prompt on prompt_id, idx_texts_hash on
-- content_hash) are dropped: no query reads through idx_texts_hash (content_hash is only ever
-- joined on, and DuckDB joins by hashing), and a prompt's texts read as fast or faster with a
-- scan (row-group statistics) than through idx_texts_prompt (benchmarks/README.md, import).
-- Both were rebuilt on every write of texts: an import of 100k rows spent ~0.2 s CPU on them.
DROP INDEX IF EXISTS idx_texts_hash;
DROP INDEX IF EXISTS idx_texts_prompt;
