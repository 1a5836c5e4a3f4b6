-- The model's own probabilities: teacher-forced scores of texts under a model + prompt template
-- (the scoring stage, core/scoring.py) and the per-token record of generation (tokens, raw
-- log-probabilities, entropy of the sampling distribution). Documented in docs/schema.md.
CREATE SEQUENCE IF NOT EXISTS seq_scorers START 1;

-- One scorer per (model, template, scorer code version): what a text's score is conditioned on.
CREATE TABLE scorers (
    id            BIGINT PRIMARY KEY DEFAULT nextval('seq_scorers'),
    model_id      BIGINT NOT NULL,           -- models.id
    template      VARCHAR NOT NULL,          -- preset label, e.g. personalized-films
    template_hash VARCHAR NOT NULL,          -- md5 of template_json
    template_json JSON NOT NULL,             -- {chat, system, user, base}: as runs.meta holds it
    version       VARCHAR NOT NULL,          -- scorer code version
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    UNIQUE (model_id, template_hash, version)
);

-- One row per (scorer, text): the text teacher-forced after its exact rendered prompt.
-- Arrays are little-endian BLOBs: float16 per-token log-probabilities and entropies (nats),
-- uint32 end byte offsets of each token in the text's UTF-8 body (NULL when the tokens do not
-- spell the body byte for byte).
CREATE TABLE text_scores (
    scorer_id     BIGINT NOT NULL,
    text_id       BIGINT NOT NULL,
    context_hash  VARCHAR NOT NULL,          -- md5 of the rendered prompt text
    content_hash  VARCHAR NOT NULL,          -- texts.content_hash when scored
    n_context     INTEGER NOT NULL,          -- prompt tokens
    n_tokens      INTEGER NOT NULL,          -- text tokens scored
    truncated     BOOLEAN NOT NULL,          -- the text was longer than the scorer's limit
    total_logprob DOUBLE,
    mean_logprob  DOUBLE,                    -- total / n_tokens (NULL for an empty text)
    perplexity    DOUBLE,                    -- exp(-mean_logprob)
    mean_entropy  DOUBLE,
    logprobs      BLOB,
    entropies     BLOB,
    ends          BLOB,
    scored_at     TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (scorer_id, text_id)
);
CREATE INDEX idx_text_scores_cache ON text_scores(context_hash, content_hash);

-- Per-token record of a generated sample, committed with it (llama.cpp engine only).
CREATE TABLE generation_tokens (
    text_id    BIGINT PRIMARY KEY,           -- generations.text_id
    tokens     BLOB NOT NULL,                -- int32 token ids as sampled (incl. a final end token)
    logprobs   BLOB NOT NULL,                -- float16 raw log-probability of each token
    entropies  BLOB NOT NULL,                -- float16 entropy (nats) of the sampling distribution
    pieces     JSON NOT NULL                 -- each token's text (UTF-8, errors replaced)
);
